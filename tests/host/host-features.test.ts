// What a host may tell the core it handles (hostFeatures, docs/abi.md): FILL_AT (payload bytes
// the core queues are copied by the host straight into the queue's slabs) and GATHER (a WRITE of
// queued bytes that span slabs comes as a table of runs, which the host copies into the one
// buffer it sends). Both change where bytes are copied, never which bytes go out or what a trace
// records: checked here on real sockets with and without them, and by replaying traces
// recorded either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodenet from 'node:net';
import * as wasinet from '../../host/index.js';
import { stackOf } from '../../host/net/create.js';

type Net = ReturnType<typeof wasinet.createStack>;

/** A stack whose core was told `features` (0: a host that knows neither form). */
function stackWith(features: number, record?: string): Net {
  const net = wasinet.createStack(record ? { record: { path: record } } : {});
  stackOf(net).core.exports.hostFeatures(features);
  return net;
}

async function listening(server: nodenet.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as nodenet.AddressInfo).port;
}

/** Writes `total` random bytes in writes of about `size` bytes; resolves with their hash once closed. */
async function sendRandom(s: nodenet.Socket, size: number, total: number): Promise<{ hash: string; bytes: number }> {
  await new Promise((resolve) => s.once('connect', resolve));
  const want = crypto.createHash('sha256');
  let bytes = 0;
  for (let k = 0; bytes < total; k++) {
    const b = crypto.randomBytes(size + (k % 7)); // sizes that do not line up with the slabs
    want.update(b);
    bytes += b.length;
    if (!s.write(b)) await new Promise((resolve) => s.once('drain', resolve));
  }
  s.end();
  await new Promise((resolve) => s.once('close', resolve));
  return { hash: want.digest('hex'), bytes };
}

for (const features of [0, 3]) {
  const label = features === 0 ? 'a host without FILL_AT and GATHER' : 'a host with FILL_AT and GATHER';

  test(`${label}: batched, queued and gathered writes reach a node:net peer intact, in order`, async () => {
    const net = stackWith(features);
    for (const size of [64, 3000, 16384, 40000]) {
      const got = crypto.createHash('sha256');
      let n = 0;
      let ended!: () => void;
      const peerDone = new Promise<void>((resolve) => { ended = resolve; });
      const server = nodenet.createServer((c) => {
        c.on('data', (d) => { got.update(d); n += d.length; });
        c.on('end', () => { c.end(); ended(); });
      });
      const port = await listening(server);
      const sent = await sendRandom(net.connect(port, '127.0.0.1'), size, 4 << 20);
      await peerDone;
      server.close();
      assert.equal(n, sent.bytes, `${size}-byte writes: bytes received`);
      assert.equal(got.digest('hex'), sent.hash, `${size}-byte writes: the same bytes, in order`);
    }
  });

  test(`${label}: bytes that arrive while the reader is paused are queued and delivered intact`, async () => {
    const net = stackWith(features);
    const payload = crypto.randomBytes(3 << 20);
    const server = nodenet.createServer((c) => c.end(payload));
    const port = await listening(server);
    const s = net.connect(port, '127.0.0.1');
    s.pause();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the peer's bytes pile up in the core
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.resume();
    await new Promise((resolve) => s.once('end', resolve));
    s.destroy();
    server.close();
    assert.ok(Buffer.concat(chunks).equals(payload), 'the paused socket delivered every byte, in order');
  });
}

test('a trace recorded by a host without FILL_AT and GATHER replays on one with them, and the other way round', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasinet-features-'));
  try {
    for (const features of [0, 3]) {
      const file = path.join(dir, `features-${features}.trace`);
      const net = stackWith(features, file);
      const server = nodenet.createServer((c) => { c.resume(); c.on('end', () => c.end()); });
      const port = await listening(server);
      for (const size of [64, 16384]) await sendRandom(net.connect(port, '127.0.0.1'), size, 1 << 20);
      server.close();
      await net.recorder!.close();
      // replay() runs a fresh core on this host, which tells it both features.
      const result = await wasinet.replay(file);
      assert.equal(result.ok, true, `recorded with features ${features}: ${JSON.stringify(result).slice(0, 400)}`);
      assert.ok(result.inputs > 1000, `recorded with features ${features}: ${result.inputs} inputs replayed`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
