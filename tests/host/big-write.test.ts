// A write larger than the core's scratch region is offered whole, without a copy (docs/abi.md,
// WRITE_LIMIT): over real loopback TCP to a node:net peer its bytes arrive intact, a recording
// keeps each byte once (a write the core took only part of keeps only the part), and both
// trace formats replay it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { createStack, replay, formatDivergence, readTrace, type InputRecord } from '../../host/index.js';
import { writeDigest } from '../../host/trace/format.js';
import { sockPath, pattern } from './helpers.js';

const MiB = 1024 * 1024;
const WRITES = [3 * MiB, MiB, 300 * 1024, 5];

/** One buffer of `size` pattern bytes. */
function bytes(seed: number, size: number): Buffer {
  return Buffer.concat([...pattern(seed, size)]);
}

/** A node:net server that hashes what it reads until EOF, then answers with the hash. */
async function hashingPeer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => {
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => s.end(h.digest('hex')));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Writes WRITES (one write() each, no waiting for 'drain'), ends, returns the peer's hash. */
async function session(stack: ReturnType<typeof createStack>, port: number, bufs: Buffer[]): Promise<string> {
  const c = stack.connect(port, '127.0.0.1');
  let answer = '';
  c.setEncoding('utf8');
  c.on('data', (d: string) => { answer += d; });
  const done: boolean[] = [];
  for (const b of bufs) c.write(b, () => done.push(true));
  c.end();
  await new Promise((r) => c.on('close', r));
  assert.equal(done.length, bufs.length, 'every write callback ran');
  return answer;
}

function expectedHash(bufs: Buffer[]): string {
  const h = createHash('sha256');
  for (const b of bufs) h.update(b);
  return h.digest('hex');
}

test('a write larger than scratch arrives whole and in order at a node:net peer', { timeout: 30000 }, async () => {
  const peer = await hashingPeer();
  try {
    const bufs = WRITES.map((n, i) => bytes(i + 1, n));
    const stack = createStack();
    assert.equal(await session(stack, peer.port, bufs), expectedHash(bufs));
  } finally {
    await peer.close();
  }
});

for (const version of [2, 1] as const) {
  test(`format ${version}: a recording of writes larger than scratch replays; format 2 with writeHead: Infinity stores each byte written once`, { timeout: 60000 }, async () => {
    const peer = await hashingPeer();
    const file = sockPath(`bigw${version}`).replace(/\.sock$/, '.trace');
    try {
      const bufs = WRITES.map((n, i) => bytes(i + 7, n));
      const stack = createStack({ record: version === 1 ? { path: file, version: 1 } : { path: file, writeHead: Infinity } });
      assert.equal(await session(stack, peer.port, bufs), expectedHash(bufs));
      await stack.recorder!.close();
      const r = replay(file);
      assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
      if (version === 1) return;
      const writes = readTrace(file).records.filter((x): x is InputRecord => x.kind === 'input' && x.name === 'apiWrite');
      // The 3 MiB write was offered as one piece (not cut at scratch's 256 KiB) ...
      assert.equal(writes[0].args[1], WRITES[0]);
      // ... and every byte written is in the trace once, in order, however much each offer took.
      assert.ok(writes.every((w) => w.partial === undefined));
      const stored = Buffer.concat(writes.map((w) => w.payload ?? Buffer.alloc(0)));
      assert.equal(stored.length, WRITES.reduce((a, b) => a + b, 0));
      assert.equal(createHash('sha256').update(stored).digest('hex'), expectedHash(bufs));
    } finally {
      await peer.close();
      rmSync(file, { force: true });
    }
  });
}

test('format 2 by default keeps the first 256 bytes of each write and a digest of the part the core took; it replays', { timeout: 60000 }, async () => {
  const peer = await hashingPeer();
  const file = sockPath('bigwh').replace(/\.sock$/, '.trace');
  try {
    const bufs = WRITES.map((n, i) => bytes(i + 7, n));
    const stack = createStack({ record: { path: file } });
    assert.equal(await session(stack, peer.port, bufs), expectedHash(bufs));
    await stack.recorder!.close();
    const r = replay(file);
    assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
    const { header, records } = readTrace(file);
    assert.equal(header.writeHead, 256);
    assert.equal(header.outputs, 4);
    const writes = records.filter((x): x is InputRecord => x.kind === 'input' && x.name === 'apiWrite');
    // Offer by offer, the parts taken add up to every byte written, in order.
    const all = Buffer.concat(bufs);
    let at = 0;
    for (const w of writes) {
      const len = w.payload?.length ?? 0;
      const part = all.subarray(at, at + len);
      if (len > 256) {
        assert.deepEqual(w.partial, { length: len, head: 256, digest: writeDigest(part, len) });
        assert.ok(w.payload!.subarray(0, 256).equals(part.subarray(0, 256)), `the head of the write at ${at}`);
      } else {
        assert.equal(w.partial, undefined);
        assert.ok(w.payload === null || w.payload.equals(part), `the write at ${at}, kept whole`);
      }
      at += len;
    }
    assert.equal(at, all.length);
    assert.ok(statSync(file).size < 64 * 1024, `${statSync(file).size} B of trace for ${all.length} B written`);
  } finally {
    await peer.close();
    rmSync(file, { force: true });
  }
});

test('writeDigest is of the bytes alone (any alignment of the buffer); a byte changed anywhere in a write of up to 8 KiB, in the first 1 KiB of a longer one, or the length, changes it', () => {
  const data = bytes(3, 20_000);
  for (const len of [0, 1, 3, 15, 17, 255, 1023, 1024, 1025, 4097, 8191, 8192, 8193, 20_000]) {
    const d = writeDigest(data, len);
    for (let shift = 1; shift < 8; shift++) {
      const moved = Buffer.alloc(len + 8);
      data.copy(moved, shift, 0, len);
      assert.equal(writeDigest(moved.subarray(shift, shift + len), len), d, `${len} bytes at offset ${shift}`);
    }
    if (len > 0) assert.notEqual(writeDigest(data, len - 1), d, `${len} against ${len - 1} bytes`);
  }
  const changed = (len: number, upTo: number): void => {
    const base = writeDigest(data, len);
    for (let at = 0; at < upTo; at++) {
      for (const flip of [0x01, 0x20, 0x80]) {
        const c = Buffer.from(data);
        c[at] ^= flip;
        if (writeDigest(c, len) === base) assert.fail(`${len} bytes, byte ${at} changed by ${flip}: the same digest`);
      }
    }
  };
  changed(8192, 8192);
  changed(20_000, 1024);
  // Past the first 1 KiB of a long write only samples are read: the last 32 bytes always.
  const c = Buffer.from(data);
  c[19_990] ^= 1;
  assert.notEqual(writeDigest(c, 20_000), writeDigest(data, 20_000));
});
