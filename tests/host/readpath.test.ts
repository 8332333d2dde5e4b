// The read path's inputs: a flowing socket asks the core for data once, not after every chunk
// (the Readable asks for more after each one), and a socket that paused asks again when it
// resumes. Real loopback TCP, with a node:net peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { createStack } from '../../host/index.js';
import type { Tap } from '../../host/core/core.js';
import { stackOf } from '../../host/net/create.js';
import { eventually, sleep } from './helpers.js';

/** A stack whose core counts its inputs by name. */
function countingStack(): { net: ReturnType<typeof createStack>; counts: Map<string, number> } {
  const net = createStack();
  const counts = new Map<string, number>();
  const tap: Tap = { call(name) { counts.set(name, (counts.get(name) ?? 0) + 1); } };
  stackOf(net).core.tap = tap;
  return { net, counts };
}

test('a flowing socket asks for data once: 200 chunks, one apiRead', { timeout: 20000 }, async () => {
  // The peer sends each chunk only after the one before came back, so every chunk is its own read.
  const server = nodeNet.createServer((s) => {
    let i = 0;
    const next = () => { s.write(`chunk ${i++};`); };
    s.on('data', () => { if (i < 200) next(); else s.end(); });
    next();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { net, counts } = countingStack();
  const c = net.connect((server.address() as nodeNet.AddressInfo).port, '127.0.0.1');
  let got = '';
  let chunks = 0;
  c.setEncoding('utf8');
  c.on('data', (d: string) => { got += d; chunks++; c.write('k'); });
  await eventually(c, 'end', 15000);
  c.end();
  server.close();
  const want = Array.from({ length: 200 }, (_, i) => `chunk ${i};`).join('');
  assert.equal(got, want);
  assert.ok(chunks >= 100, `the chunks arrived one by one (${chunks} 'data' events)`);
  assert.equal(counts.get('onData'), chunks);
  assert.equal(counts.get('apiRead'), 1);
});

test('a socket that paused asks for data again when it resumes, and loses nothing', { timeout: 30000 }, async () => {
  const total = 8 * 1024 * 1024;
  const server = nodeNet.createServer((s) => {
    const block = Buffer.alloc(65536);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        for (let j = 0; j < block.length; j += 4) block.writeUInt32LE((sent + j) >>> 2, j);
        sent += block.length;
        if (!s.write(block)) return;
      }
      s.end();
    };
    s.on('drain', pump);
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { net, counts } = countingStack();
  const c = net.connect((server.address() as nodeNet.AddressInfo).port, '127.0.0.1');
  let at = 0;
  let bad = -1;
  let pauses = 0;
  c.on('data', (d: Buffer) => {
    for (let j = 0; j < d.length && bad < 0; j++) {
      const p = at + j; // byte p is byte p % 4 of the little-endian number p / 4
      if (d[j] !== (((p >>> 2) >>> (8 * (p & 3))) & 255)) bad = p;
    }
    at += d.length;
    if (pauses < 5 && at > (pauses + 1) * total / 8) {
      pauses++;
      c.pause(); // the Readable's buffer fills, the socket stops the core (apiPause) ...
      setTimeout(() => c.resume(), 100); // ... and resuming must ask for data again
    }
  });
  await eventually(c, 'end', 25000);
  c.end();
  server.close();
  assert.equal(bad, -1, `byte ${bad} is wrong`);
  assert.equal(at, total);
  const paused = counts.get('apiPause') ?? 0;
  assert.ok(paused >= 1, 'the paused socket stopped the core');
  assert.equal(counts.get('apiRead'), paused + 1, 'one apiRead at the start and one after each apiPause');
  await sleep(0);
});
