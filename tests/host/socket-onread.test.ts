// The onread option: reading into the user's buffer ({ buffer, callback }), with a Buffer and
// with a function returning one; a callback returning false pauses until resume(). Every test
// runs on node:net and on wasinet; the peer is a node:net server sending a known pattern.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type nodeNet from 'node:net';
import { libs, closed, until, sleep, patternHash, eventLog, sender } from './helpers.js';

const KiB = 1024;


interface Call { n: number; buf: Uint8Array; len: number }

for (const [lib, net] of libs) {
  test(`${lib}: onread with a Buffer: every callback gets that buffer, all bytes arrive in order, no 'data'`, { timeout: 15000 }, async () => {
    const size = 1024 * KiB;
    const srv = await sender(1, size);
    try {
      const buf = Buffer.alloc(16 * KiB);
      const calls: Call[] = [];
      const h = createHash('sha256');
      const s = net.connect({
        port: srv.port, host: '127.0.0.1',
        onread: { buffer: buf, callback: (n: number, b: Uint8Array) => { calls.push({ n, buf: b, len: b.length }); h.update(b.subarray(0, n)); return true; } },
      });
      const log = eventLog(s, ['connect', 'data', 'end', 'finish', 'close']);
      await closed(s);
      assert.ok(calls.length >= size / buf.length, `${calls.length} callbacks`);
      for (const c of calls) {
        assert.equal(c.buf, buf);
        assert.ok(c.n > 0 && c.n <= buf.length, `nread ${c.n}`);
      }
      assert.equal(calls.reduce((a, c) => a + c.n, 0), size);
      assert.equal(h.digest('hex'), patternHash(1, size));
      assert.deepEqual(log, ['connect', 'end', 'finish', 'close false']);
      assert.equal(s.bytesRead, size);
    } finally { await srv.close(); }
  });

  test(`${lib}: onread with a function: called once up front and once after each callback; each callback gets the latest buffer`,
    { timeout: 15000 }, async () => {
      const size = 300 * KiB;
      const srv = await sender(2, size);
      try {
        const gens: Buffer[] = [];
        const calls: Call[] = [];
        const h = createHash('sha256');
        const s = net.connect({
          port: srv.port, host: '127.0.0.1',
          onread: {
            buffer: () => { const b = Buffer.alloc(1000 + (gens.length % 7) * 1000); gens.push(b); return b; },
            callback: (n: number, b: Uint8Array) => { calls.push({ n, buf: b, len: b.length }); h.update(b.subarray(0, n)); return true; },
          },
        });
        const log = eventLog(s, ['connect', 'data', 'end', 'close']);
        await closed(s);
        assert.ok(calls.length > 0);
        assert.equal(gens.length, calls.length + 1);
        calls.forEach((c, i) => {
          assert.equal(c.buf, gens[i], `callback ${i} got the buffer made before it`);
          assert.ok(c.n > 0 && c.n <= c.len, `nread ${c.n} of ${c.len}`);
        });
        assert.equal(calls.reduce((a, c) => a + c.n, 0), size);
        assert.equal(h.digest('hex'), patternHash(2, size));
        assert.deepEqual(log, ['connect', 'end', 'close false']);
      } finally { await srv.close(); }
    });

  test(`${lib}: onread callback returning false pauses: no more callbacks until resume(); all bytes arrive in order`,
    { timeout: 20000 }, async () => {
      const size = 256 * KiB;
      const srv = await sender(3, size);
      try {
        const buf = Buffer.alloc(4 * KiB);
        let calls = 0;
        let bytes = 0;
        const h = createHash('sha256');
        let stopAt = 1;
        const s = net.connect({
          port: srv.port, host: '127.0.0.1',
          onread: {
            buffer: buf,
            callback: (n: number) => {
              calls++;
              bytes += n;
              h.update(buf.subarray(0, n));
              return calls !== stopAt;
            },
          },
        });
        const done = closed(s);
        let rounds = 0;
        while (bytes < size && rounds < 200) {
          rounds++;
          await until(() => calls >= stopAt || bytes >= size, 5000, `callback ${stopAt}`);
          if (bytes >= size) break;
          const held = calls;
          await sleep(rounds <= 3 ? 200 : 20);
          assert.equal(calls, held, `no callback while paused (round ${rounds})`);
          stopAt = calls + 1 + (rounds % 5) * 3;
          s.resume();
        }
        assert.ok(rounds >= 4, `paused ${rounds} times`);
        await done;
        assert.equal(bytes, size);
        assert.equal(h.digest('hex'), patternHash(3, size));
      } finally { await srv.close(); }
    });

  test(`${lib}: onread: the callback is called on the socket (this.pause() / this.resume()), an 8-byte buffer at a time`, { timeout: 15000 }, async () => {
    const size = 64;
    const srv = await sender(5, size);
    try {
      const buf = Buffer.alloc(8);
      const got: Buffer[] = [];
      const selves: unknown[] = [];
      let paused = false;
      const s = net.connect({
        port: srv.port, host: '127.0.0.1',
        onread: {
          buffer: buf,
          callback(this: nodeNet.Socket, n: number, b: Uint8Array) {
            assert.equal(paused, false, 'no callback while paused');
            assert.equal(b, buf);
            selves.push(this);
            got.push(Buffer.from(b.subarray(0, n)));
            paused = true;
            this.pause();
            setTimeout(() => { paused = false; this.resume(); }, 5);
          },
        },
      } as unknown as nodeNet.NetConnectOpts);
      await closed(s);
      assert.ok(selves.length >= size / 8);
      assert.ok(selves.every((x) => x === s));
      const all = Buffer.concat(got);
      assert.equal(all.length, size);
      assert.equal(createHash('sha256').update(all).digest('hex'), patternHash(5, size));
    } finally { await srv.close(); }
  });

  test(`${lib}: onread: pause() stops the callbacks and resume() restarts them`, { timeout: 15000 }, async () => {
    const size = 256 * KiB;
    const srv = await sender(4, size);
    try {
      const buf = Buffer.alloc(8 * KiB);
      let calls = 0;
      let bytes = 0;
      const h = createHash('sha256');
      const s = net.connect({
        port: srv.port, host: '127.0.0.1',
        onread: {
          buffer: buf,
          callback: (n: number) => {
            calls++;
            bytes += n;
            h.update(buf.subarray(0, n));
            if (calls === 2) s.pause();
            return true;
          },
        },
      });
      const done = closed(s);
      await until(() => calls >= 2, 5000, 'two callbacks');
      await sleep(300);
      assert.equal(calls, 2, 'no callback after pause()');
      s.resume();
      await done;
      assert.equal(bytes, size);
      assert.equal(h.digest('hex'), patternHash(4, size));
    } finally { await srv.close(); }
  });
}
