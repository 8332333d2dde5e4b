// The write feed: how a Socket offers a write request to the core piece by piece, and resumes
// on WRITABLE. A transport may confirm a WRITE at once — inside the core's handling of the very
// input that offered a piece — so WRITABLE can arrive while that piece is still being offered.
//
// 1. A property test on a transport that confirms writes synchronously, asynchronously and
//    partially, at random, with random credit: random write sizes and counts (string, Buffer,
//    writev through cork), every byte checked where the transport received it.
// 2. The case that showed the bug on real sockets: 16 MiB written five times to a node:net peer
//    in another process that reads as fast as it can and answers each 16 MiB with its hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSeed } from './chaos.js';
import { sockPath } from './helpers.js';

test('write feed property: 300 seeds of random writes on a transport that confirms sync, async and partially', { timeout: 120000 }, async () => {
  let sync = 0, async = 0, partial = 0;
  const [from, to] = (process.env.WRITEFEED_SEEDS ?? "1-300").split("-").map(Number);
  for (let seed = from; seed <= (to ?? from); seed++) {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`seed ${seed} did not finish in 10 s`)), 10000); });
    const b = await Promise.race([runSeed(seed), hung]).finally(() => clearTimeout(timer));
    sync += b.sync; async += b.async; partial += b.partial;
  }
  // Each way of confirming was exercised many times, or the property says little.
  assert.ok(sync > 1000 && async > 1000 && partial > 1000, `sync ${sync}, async ${async}, partial ${partial}`);
});

const PEER = `
import net from 'node:net';
import { createHash } from 'node:crypto';
const N = 16 << 20;
const srv = net.createServer((s) => {
  let h = createHash('sha256'), got = 0;
  s.on('data', (d) => {
    for (let off = 0; off < d.length;) {
      const take = Math.min(N - got, d.length - off);
      h.update(d.subarray(off, off + take));
      got += take; off += take;
      if (got === N) { s.write(h.digest('hex') + '\\n'); h = createHash('sha256'); got = 0; }
    }
  });
  s.on('end', () => s.end());
  s.on('error', () => {});
});
const target = process.argv[2] === 'unix' ? process.argv[3] : 0;
srv.listen(target, process.argv[2] === 'unix' ? undefined : '127.0.0.1', () => process.send(srv.address()));
`;

for (const transport of ['tcp', 'unix'] as const) {
  test(`16 MiB written five times to a fast node:net reader (${transport}, other process): every hash matches`, { timeout: 60000 }, async () => {
    const net = (await import('../../host/index.js')).default;
    const script = join(process.env.WASINET_TEST_TMP ?? '/tmp', `hash-peer-${process.pid}-${transport}.mjs`);
    writeFileSync(script, PEER);
    const path = sockPath('hash');
    const child = fork(script, transport === 'unix' ? ['unix', path] : ['tcp']);
    try {
      const address = await new Promise<unknown>((resolve) => child.once('message', resolve));
      const N = 16 << 20;
      const bufs = Array.from({ length: 5 }, () => randomBytes(N));
      const want = bufs.map((b) => createHash('sha256').update(b).digest('hex'));
      const c = transport === 'unix' ? net.connect(path) : net.connect((address as { port: number }).port, '127.0.0.1');
      let lines = '';
      const errors: string[] = [];
      c.on('data', (d) => { lines += d; });
      c.on('error', (e) => errors.push(e.message));
      c.on('connect', () => { for (const b of bufs) c.write(b); c.end(); });
      await new Promise((resolve) => c.on('close', resolve));
      assert.deepEqual(errors, []);
      assert.deepEqual(lines.trim().split('\n'), want);
    } finally {
      child.kill();
    }
  });
}
