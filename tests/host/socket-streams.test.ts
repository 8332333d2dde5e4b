// A socket as a stream: async iteration, pipe() both ways, stream.pipeline() with an error,
// setEncoding() with multi-byte characters split across writes. Every test runs on node:net and
// on wasinet; peers are node:net.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { createHash } from 'node:crypto';
import { Readable, Transform, Writable, pipeline } from 'node:stream';
import { libs, serve, closed, until, sleep, pattern, patternHash, eventLog, eventually, sender } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;


/** Collects what a readable gives until 'end' as text (in the `hash` field, to share a shape). */
function hashUntilText(r: nodeNet.Socket): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    r.on('data', (d: Buffer) => parts.push(d));
    r.once('end', () => { const b = Buffer.concat(parts); resolve({ hash: b.toString(), bytes: b.length }); });
    r.once('error', reject);
  });
}

function echo() {
  return serve(nodeNet, (p) => { p.on('error', () => {}); p.pipe(p); });
}

/** A Writable that hashes what it is given. */
function hashSink() {
  const h = createHash('sha256');
  const r = { bytes: 0, hash: '' };
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) { h.update(chunk); r.bytes += chunk.length; cb(); },
    final(cb) { r.hash = h.digest('hex'); cb(); },
  });
  return { w, r };
}

for (const [lib, net] of libs) {
  test(`${lib}: for await (const chunk of socket) reads everything until the peer ends, then the socket is closed`,
    { timeout: 15000 }, async () => {
      const size = 2 * MiB;
      const srv = await sender(1, size);
      try {
        const s = net.connect(srv.port, '127.0.0.1');
        const log = eventLog(s, ['connect', 'end', 'finish', 'error', 'close']);
        const done = closed(s);
        const h = createHash('sha256');
        let bytes = 0;
        let chunks = 0;
        for await (const chunk of s) {
          assert.ok(Buffer.isBuffer(chunk));
          h.update(chunk);
          bytes += chunk.length;
          if (++chunks > 100000) break;
        }
        assert.equal(bytes, size);
        assert.equal(h.digest('hex'), patternHash(1, size));
        await done;
        assert.equal(s.destroyed, true);
        assert.equal(log[0], 'connect');
        assert.ok(log.includes('end'));
        assert.equal(log.at(-1), 'close false');
        assert.equal(log.filter((l) => l.startsWith('close')).length, 1);
      } finally { await srv.close(); }
    });

  test(`${lib}: breaking out of for await destroys the socket with an AbortError: 'error' ABORT_ERR, 'close' true`, { timeout: 15000 }, async () => {
    const srv = await sender(2, 4 * MiB);
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      const log = eventLog(s, ['end', 'error', 'close']);
      const done = closed(s);
      const errs: Error[] = [];
      s.on('error', (e) => errs.push(e));
      let got = 0;
      for await (const chunk of s) {
        got += (chunk as Buffer).length;
        break;
      }
      assert.ok(got > 0);
      assert.equal(s.destroyed, true);
      await done;
      await sleep(30);
      assert.deepEqual(log, ['error ABORT_ERR', 'close true']);
      assert.equal(errs[0].name, 'AbortError');
      assert.equal(errs[0].message, 'The operation was aborted');
    } finally { await srv.close(); }
  });

  test(`${lib}: an error thrown in the for await body rejects the loop with it and destroys the socket with an AbortError`, { timeout: 15000 }, async () => {
    const srv = await sender(3, 4 * MiB);
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      const log = eventLog(s, ['end', 'error', 'close']);
      const done = closed(s);
      const boom = new Error('in the loop');
      await assert.rejects(async () => {
        for await (const _ of s) throw boom;
      }, (e) => e === boom);
      await done;
      await sleep(30);
      assert.equal(s.destroyed, true);
      assert.deepEqual(log, ['error ABORT_ERR', 'close true']);
    } finally { await srv.close(); }
  });

  test(`${lib}: pipe() into a socket and from a socket: 4 MiB through an echo peer arrive intact`, { timeout: 20000 }, async () => {
    const size = 4 * MiB;
    const srv = await echo();
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      const { w, r } = hashSink();
      const finished = new Promise((res) => w.on('finish', res));
      const src = Readable.from(pattern(4, size, 64 * KiB));
      assert.equal(src.pipe(s), s);
      assert.equal(s.pipe(w), w);
      await finished;
      await closed(s).catch(() => {});
      assert.equal(r.bytes, size);
      assert.equal(r.hash, patternHash(4, size));
    } finally { await srv.close(); }
  });

  test(`${lib}: pipe() respects backpressure: a slow destination pauses the socket, and the socket resumes on 'drain'`,
    { timeout: 20000 }, async () => {
      const size = 2 * MiB;
      const srv = await sender(5, size);
      try {
        const s = net.connect(srv.port, '127.0.0.1');
        const h = createHash('sha256');
        let bytes = 0;
        let maxBuffered = 0;
        const slow = new Writable({
          highWaterMark: 16 * KiB,
          write(chunk: Buffer, _e, cb) {
            h.update(chunk);
            bytes += chunk.length;
            maxBuffered = Math.max(maxBuffered, s.readableLength);
            setTimeout(cb, 1);
          },
        });
        let pausedSeen = false;
        s.on('pause', () => { pausedSeen = true; });
        const finished = new Promise((res) => slow.on('finish', res));
        s.pipe(slow);
        await finished;
        assert.equal(bytes, size);
        assert.equal(h.digest('hex'), patternHash(5, size));
        assert.equal(pausedSeen, true, 'pipe() paused the socket at least once');
        assert.ok(maxBuffered <= 4 * 64 * KiB, `readable side buffered at most ${maxBuffered} bytes`);
      } finally { await srv.close(); }
    });

  test(`${lib}: stream.pipeline(socket, transform) with a failing transform: the callback gets its error, the socket is destroyed with it`,
    { timeout: 15000 }, async () => {
      const srv = await sender(6, 8 * MiB);
      try {
        const s = net.connect(srv.port, '127.0.0.1');
        const log = eventLog(s, ['end', 'error', 'close']);
        const done = closed(s);
        const boom = new Error('transform failed');
        let n = 0;
        const t = new Transform({
          transform(chunk, _e, cb) { if (++n === 3) cb(boom); else cb(null, chunk); },
        });
        const { w } = hashSink();
        const err = await new Promise<Error | null | undefined>((res) => pipeline(s, t, w, (e) => res(e)));
        assert.equal(err, boom);
        await done;
        await sleep(30);
        assert.equal(s.destroyed, true);
        assert.deepEqual(log, ['error transform failed', 'close true']);
      } finally { await srv.close(); }
    });

  test(`${lib}: stream.pipeline(source, socket) with a failing source: the callback gets its error, the socket is destroyed with it`,
    { timeout: 15000 }, async () => {
      let peerGot = 0;
      const srv = await serve(nodeNet, (p) => { p.on('error', () => {}); p.on('data', (d) => { peerGot += d.length; }); });
      try {
        const s = net.connect(srv.port, '127.0.0.1');
        const log = eventLog(s, ['end', 'finish', 'error', 'close']);
        const done = closed(s);
        const boom = new Error('source failed');
        async function* source() {
          yield Buffer.alloc(1000, 1);
          await sleep(50);
          yield Buffer.alloc(1000, 2);
          await sleep(50);
          throw boom;
        }
        const err = await new Promise<Error | null | undefined>((res) => pipeline(source, s, (e) => res(e)));
        assert.equal(err, boom);
        await done;
        await sleep(30);
        assert.equal(s.destroyed, true);
        assert.deepEqual(log, ['error source failed', 'close true']);
        await until(() => peerGot === 2000, 3000, 'the peer to get the two chunks');
      } finally { await srv.close(); }
    });

  test(`${lib}: stream.pipeline(socket, sink) when the peer resets: the callback gets ECONNRESET`, { timeout: 15000 }, async () => {
    const srv = await serve(nodeNet, (p) => { p.write(Buffer.alloc(1000)); setTimeout(() => p.resetAndDestroy(), 50); });
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      const { w } = hashSink();
      const err = await new Promise<NodeJS.ErrnoException | null | undefined>((res) => pipeline(s, w, (e) => res(e)));
      assert.ok(err instanceof Error);
      assert.equal(err.code, 'ECONNRESET');
      assert.equal(err.message, 'read ECONNRESET');
      assert.equal(s.destroyed, true);
      assert.equal(w.destroyed, true);
    } finally { await srv.close(); }
  });

  test(`${lib}: setEncoding('utf8'): multi-byte characters split across writes arrive whole, never as U+FFFD`,
    { timeout: 15000 }, async () => {
      const text = 'a€b😀c中文ü' + '𝄞'.repeat(5) + 'end';
      const bytes = Buffer.from(text, 'utf8');
      // Split points inside characters: in the 3-byte €, the 4-byte 😀, the 3-byte 中, each 𝄞.
      const cuts = [2, 3, 6, 8, 10, 12, 15, 20, 22, 26, 27, bytes.length];
      let peer: nodeNet.Socket | null = null;
      const srv = await serve(nodeNet, (p) => { peer = p; p.setNoDelay(true); p.resume(); });
      try {
        const s = net.connect(srv.port, '127.0.0.1');
        assert.equal(s.setEncoding('utf8'), s);
        assert.equal(s.readableEncoding, 'utf8');
        const chunks: unknown[] = [];
        s.on('data', (d) => chunks.push(d));
        await eventually(s, 'connect');
        await until(() => peer !== null, 5000, 'peer');
        let from = 0;
        for (const to of cuts) {
          peer!.write(bytes.subarray(from, to));
          from = to;
          await sleep(25);
          // Whatever arrived so far decodes to a prefix of the text: no partial character shown.
          const sofar = chunks.join('');
          assert.ok(text.startsWith(sofar), `received ${JSON.stringify(sofar)}`);
        }
        peer!.end();
        await closed(s);
        assert.ok(chunks.length > 1, `${chunks.length} 'data' events`);
        for (const c of chunks) {
          assert.equal(typeof c, 'string');
          assert.ok((c as string).length > 0, "no empty 'data'");
          assert.ok(!(c as string).includes('\uFFFD'));
        }
        assert.equal(chunks.join(''), text);
        // The first byte of '€' alone gave no 'data' beyond 'a'.
      } finally { await srv.close(); }
    });

  test(`${lib}: setEncoding('utf8'): an incomplete character at the end becomes U+FFFD at 'end'`, { timeout: 10000 }, async () => {
    const srv = await serve(nodeNet, (p) => { p.end(Buffer.from([0x61, 0xE2, 0x82])); });
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      s.setEncoding('utf8');
      const chunks: string[] = [];
      s.on('data', (d) => chunks.push(d as unknown as string));
      await closed(s);
      assert.equal(chunks.join(''), 'a\uFFFD');
    } finally { await srv.close(); }
  });

  test(`${lib}: setEncoding('base64') and 'hex' decode across chunk boundaries`, { timeout: 10000 }, async () => {
    const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37) & 255));
    const srv = await serve(nodeNet, async (p) => {
      p.setNoDelay(true);
      for (let off = 0; off < payload.length; off += 101) {
        p.write(payload.subarray(off, off + 101));
        await sleep(5);
      }
      p.end();
    });
    try {
      for (const enc of ['base64', 'hex'] as const) {
        const s = net.connect(srv.port, '127.0.0.1');
        s.setEncoding(enc);
        const chunks: string[] = [];
        s.on('data', (d) => chunks.push(d as unknown as string));
        await closed(s);
        assert.equal(chunks.join(''), payload.toString(enc), enc);
      }
    } finally { await srv.close(); }
  });

  test(`${lib}: paused mode: 'readable' and read() get every byte in order, then 'end'`, { timeout: 15000 }, async () => {
    const size = 1 * MiB;
    const srv = await sender(7, size);
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      const h = createHash('sha256');
      let bytes = 0;
      let readables = 0;
      s.on('readable', () => {
        readables++;
        let chunk: Buffer | null;
        while ((chunk = s.read()) !== null) { h.update(chunk); bytes += chunk.length; }
      });
      const ended = eventually(s, 'end', 10000);
      await ended;
      assert.equal(bytes, size);
      assert.equal(h.digest('hex'), patternHash(7, size));
      assert.ok(readables > 0);
      await closed(s).catch(() => {});
    } finally { await srv.close(); }
  });

  test(`${lib}: read(n) returns exactly n bytes once buffered; at the end, what is left`, { timeout: 10000 }, async () => {
    const srv = await serve(nodeNet, (p) => { p.end(Buffer.from('0123456789abcdefghij')); });
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      // Nobody consumes: the socket still reads up to its highWaterMark.
      await until(() => s.readableLength === 20, 5000, '20 bytes buffered');
      assert.equal(String(s.read(7)), '0123456');
      assert.equal(String(s.read(7)), '789abcd');
      // read(7) with 6 bytes left returns them only once the peer's FIN is in (before, null).
      const eofIn = () => (s as unknown as { _readableState: { ended: boolean } })._readableState.ended;
      await until(() => s.readableLength === 6 && eofIn(), 2000, 'the rest and the FIN');
      const rest = s.read(7);
      assert.equal(String(rest), 'efghij');
      await eventually(s, 'end');
      assert.equal(s.read(), null);
      s.destroy();
    } finally { await srv.close(); }
  });

  test(`${lib}: cork()/uncork(): the writes are batched and all arrive in order`, { timeout: 10000 }, async () => {
    let got: Promise<{ hash: string; bytes: number }> | null = null;
    const srv = await serve(nodeNet, (p) => { got = hashUntilText(p); });
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      await eventually(s, 'connect');
      const order: string[] = [];
      s.cork();
      s.write('one,', () => order.push('cb1'));
      s.write(Buffer.from('two,'), () => order.push('cb2'));
      s.write('74687265652c', 'hex', () => order.push('cb3'));
      assert.equal(s.writableLength, 20, 'strings count in characters (decodeStrings is false)');
      assert.equal(s.writableCorked, 1);
      s.uncork();
      s.end('four', () => order.push('end cb'));
      await until(() => got !== null, 5000, 'peer');
      const r = await got!;
      assert.equal(r.hash, 'one,two,three,four');
      await closed(s);
      assert.deepEqual(order, ['cb1', 'cb2', 'cb3', 'end cb']);
      assert.equal(s.bytesWritten, 18);
    } finally { await srv.close(); }
  });

  test(`${lib}: writes queued while connecting: write() false, then 'drain', the callbacks in order, end()'s callback, 'finish'`,
    { timeout: 15000 }, async () => {
      const srv = await serve(nodeNet);
      try {
        const s = net.connect(srv.port, '127.0.0.1');
        const order: string[] = [];
        s.on('drain', () => order.push('drain'));
        s.on('finish', () => order.push('finish'));
        for (let i = 0; i < 8; i++) {
          order.push(`write ${s.write(Buffer.alloc(16 * KiB, i), () => order.push(`cb${i}`))}`);
        }
        await until(() => order.includes('drain'), 10000, "'drain'");
        s.end(() => order.push('end cb'));
        await closed(s);
        assert.deepEqual(order, [...Array(8).fill('write false'), 'drain',
          'cb0', 'cb1', 'cb2', 'cb3', 'cb4', 'cb5', 'cb6', 'cb7', 'end cb', 'finish']);
      } finally { await srv.close(); }
    });

  test(`${lib}: bytesWritten counts strings in their encoding`, { timeout: 10000 }, async () => {
    const srv = await serve(nodeNet);
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      await eventually(s, 'connect');
      s.write('€');             // 3 bytes in utf8
      s.write('abcd', 'hex');   // 2 bytes
      s.write('AAEC', 'base64'); // 3 bytes
      s.write('ü', 'latin1');   // 1 byte
      s.write(new Uint8Array(5));
      assert.equal(s.bytesWritten, 14);
      await sleep(50);
      assert.equal(s.bytesWritten, 14);
      s.destroy();
    } finally { await srv.close(); }
  });

}

// new Socket(options) hands the stream options to its Duplex as node:net does (wasinet reads
// them in place into one object of a fixed shape rather than copying them): each case is the
// same on both, including options a socket inherits (ignored), precedence between the
// high-water marks, and the user's object left as given.
test('new Socket(options): the stream options take effect as on node:net', () => {
  const read = function (this: unknown) {};
  const write = function (this: unknown) {};
  const cases: Record<string, () => Record<string | symbol, unknown>> = {
    none: () => ({}),
    highWaterMark: () => ({ highWaterMark: 1000 }),
    sides: () => ({ readableHighWaterMark: 2000, writableHighWaterMark: 3000 }),
    precedence: () => ({ highWaterMark: 500, readableHighWaterMark: 2000 }),
    encoding: () => ({ encoding: 'hex' }),
    defaultEncoding: () => ({ defaultEncoding: 'latin1' }),
    readableFalse: () => ({ readable: false }),
    writableFalse: () => ({ writable: false }),
    halfOpen: () => ({ allowHalfOpen: true }),
    methods: () => ({ read, write }),
    captureRejections: () => ({ captureRejections: true }),
    inherited: () => Object.create({ allowHalfOpen: true, highWaterMark: 7, encoding: 'hex' }),
    unrelated: () => ({ port: 80, host: 'example.org', foo: 1 }),
  };
  const view = (net: typeof nodeNet) => {
    const out: Record<string, unknown> = {};
    for (const [name, make] of Object.entries(cases)) {
      const given = make();
      const before = JSON.stringify(Object.entries(given));
      const s = new net.Socket(given as never);
      const capture = Object.getOwnPropertySymbols(s).find((k) => k.description === 'kCapture');
      out[name] = {
        rhwm: s.readableHighWaterMark, whwm: s.writableHighWaterMark, enc: s.readableEncoding,
        defEnc: (s as unknown as { _writableState: { defaultEncoding: string } })._writableState.defaultEncoding,
        readable: s.readable, writable: s.writable, halfOpen: s.allowHalfOpen,
        read: (s as unknown as { _read: unknown })._read === read, write: (s as unknown as { _write: unknown })._write === write,
        capture: capture === undefined ? 'none' : (s as unknown as Record<symbol, unknown>)[capture],
        untouched: JSON.stringify(Object.entries(given)) === before,
      };
      s.destroy();
    }
    let thrown: unknown = null;
    try { new net.Socket({ highWaterMark: -1 } as never); } catch (e) { thrown = e; }
    out.badHighWaterMark = thrown && { name: (thrown as Error).name, code: (thrown as NodeJS.ErrnoException).code, message: (thrown as Error).message };
    return out;
  };
  const expected = view(nodeNet);
  assert.equal((expected.halfOpen as { halfOpen: boolean }).halfOpen, true); // the cases do differ
  assert.equal((expected.inherited as { halfOpen: boolean }).halfOpen, false);
  assert.deepEqual(view(libs[1][1] as typeof nodeNet), expected);
});
