// How a turn's writes leave: on the node backends, 16 KiB writes over TCP go out together, up to
// 256 KiB a WRITE (the backend asks the core for it with apiBatching, docs/abi.md); over a Unix
// socket, and on stacks that do not ask (the simulator), at most 64 KiB go together and writes
// over 8 KiB leave on their own. Real loopback sockets with node:net sinks that check every byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createStack, replay } from '../../host/index.js';
import type { Tap } from '../../host/core/core.js';
import { Op } from '../../host/core/abi.js';
import { stackOf } from '../../host/net/create.js';
import { readTrace } from '../../host/trace/reader.js';
import { sockPath } from './helpers.js';

const WRITES = 40;
const SIZE = 16384;

/** A node:net sink that answers with the sha256 of everything it got, once the writer ends. */
async function sink(where: number | string): Promise<{ server: nodeNet.Server; to: number | string }> {
  const server = nodeNet.createServer((s) => {
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => s.end(h.digest('hex')));
  });
  await new Promise<void>((r) => (typeof where === 'number' ? server.listen(where, '127.0.0.1', () => r()) : server.listen(where, () => r())));
  return { server, to: typeof where === 'number' ? (server.address() as nodeNet.AddressInfo).port : where };
}

/** Writes WRITES × 16 KiB of distinct bytes in one turn; the WRITE sizes the core made, and whether the sink got every byte. */
async function writeTurn(net: ReturnType<typeof createStack>, to: number | string): Promise<{ writes: number[]; intact: boolean }> {
  const writes: number[] = [];
  const c = typeof to === 'number' ? net.connect(to, '127.0.0.1') : net.connect(to);
  await new Promise((r) => c.once('connect', r));
  const tap: Tap = {
    call(_name, _now, _args, _bytes, _result, outputs) {
      for (const o of outputs) if (o.op === Op.CMD_WRITE && o.data && o.data.length > 0) writes.push(o.data.length);
    },
  };
  stackOf(net).core.tap = tap;
  const want = createHash('sha256');
  for (let i = 0; i < WRITES; i++) {
    const b = Buffer.alloc(SIZE, i + 1);
    want.update(b);
    c.write(b);
  }
  c.end();
  let answer = '';
  c.setEncoding('utf8');
  c.on('data', (d: string) => { answer += d; });
  await new Promise((r) => c.once('close', r));
  stackOf(net).core.tap = null;
  return { writes, intact: answer === want.digest('hex') };
}

test('node backend, TCP: a turn\'s 16 KiB writes leave together, 256 KiB a WRITE at most, every byte in order', { timeout: 20000 }, async () => {
  const { server, to } = await sink(0);
  const { writes, intact } = await writeTurn(createStack(), to);
  server.close();
  assert.ok(intact, 'the sink got every byte, in order');
  assert.equal(writes.reduce((a, b) => a + b, 0), WRITES * SIZE);
  // The turn's first leaves at once; the next 16 fill a batch that leaves when the 18th comes.
  assert.deepEqual(writes.slice(0, 2), [SIZE, 262144], `WRITE sizes ${writes.join(' ')}`);
  assert.ok(writes.length <= 4, `WRITE sizes ${writes.join(' ')}`);
});

test('node backend, Unix socket: writes over 8 KiB are not batched (64 KiB a WRITE at most), every byte in order', { timeout: 20000 }, async () => {
  const { server, to } = await sink(sockPath('batch'));
  const { writes, intact } = await writeTurn(createStack(), to);
  server.close();
  assert.ok(intact, 'the sink got every byte, in order');
  assert.equal(writes.reduce((a, b) => a + b, 0), WRITES * SIZE);
  // The second write leaves on its own, as the first (later ones the socket's stream may hand
  // over together, as node:net's writev, once the kernel is full).
  assert.deepEqual(writes.slice(0, 2), [SIZE, SIZE], `WRITE sizes ${writes.join(' ')}`);
});

test('the node backend\'s batching is a configuration input: recorded once per core, replayed by the core and by an application replay', { timeout: 30000 }, async () => {
  const { server, to } = await sink(0);
  const file = sockPath('batching').replace(/\.sock$/, '.trace');
  try {
    const live = createStack({ record: file });
    const { writes, intact } = await writeTurn(live, to);
    await live.recorder!.close();
    assert.ok(intact);
    assert.equal(writes[1], 262144);
    const { records } = readTrace(file);
    const inputs = records.filter((r) => r.kind === 'input') as { name: string; args: number[] }[];
    const batching = inputs.filter((r) => r.name === 'apiBatching');
    assert.deepEqual(batching.map((r) => r.args), [[16384, 262144]]);
    assert.equal(inputs[0].name, 'apiBatching', 'given before any other input');
    assert.equal(replay(file).ok, true, 'the core replays it');
    // The application again, offline: the same calls, the same WRITEs.
    const again = createStack({ replay: file });
    const replayed = await writeTurn(again, to);
    const done = await again.replay!.done;
    assert.equal(done.ok, true, JSON.stringify(done.divergence));
    assert.deepEqual(replayed.writes, writes);
  } finally {
    server.close();
    rmSync(file, { force: true });
  }
});

test('a stack that does not ask (the simulator) keeps the core\'s batching: a 16 KiB write leaves on its own', { timeout: 20000 }, async () => {
  const sim = createStack({ backend: 'sim', seed: 3 });
  const writes: number[] = [];
  const server = sim.createServer((s) => s.resume());
  await new Promise<void>((r) => server.listen(80, '127.0.0.1', () => r()));
  const c = sim.connect(80, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  // Only the client writes (the server reads).
  stackOf(sim).core.tap = {
    call(_n, _t, _a, _b, _r, outputs) {
      for (const o of outputs) if (o.op === Op.CMD_WRITE && o.data && o.data.length > 0) writes.push(o.data.length);
    },
  };
  for (let i = 0; i < 8; i++) c.write(Buffer.alloc(SIZE, i));
  c.end();
  c.on('close', () => server.close());
  await sim.run();
  stackOf(sim).core.tap = null;
  assert.ok(writes.length > 0);
  assert.equal(writes.reduce((a, b) => a + b, 0), 8 * SIZE);
  // The second write leaves on its own (batched, it would have gone with the ones after it).
  assert.deepEqual(writes.slice(0, 2), [SIZE, SIZE], `WRITE sizes ${writes.join(' ')}`);
  assert.ok(writes.every((n) => n <= 65536), `WRITE sizes ${writes.join(' ')}`);
});
