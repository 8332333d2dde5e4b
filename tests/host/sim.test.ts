// The sim backend as a product: seeded determinism, virtual time, the knobs, the 1-byte credit
// bound, and the net API working with no real network at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createStack, SimNetwork, type StackApi } from '../../host/index.js';
import { stackOf } from '../../host/net/create.js';
import { Op } from '../../host/core/abi.js';
import type { Output, Tap } from '../../host/core/core.js';

type Sock = InstanceType<StackApi['Socket']>;

/** A small echo exchange whose full event log (with virtual times) is returned. */
async function scripted(seed: number, extra: object = {}): Promise<string[]> {
  const net = createStack({ backend: 'sim', seed, latency: [1, 9], chunk: [1, 4000], ...extra });
  const log: string[] = [];
  const at = () => `t=${net.now()}`;
  const server = net.createServer((s: Sock) => {
    s.on('data', (d: Buffer) => { log.push(`server data ${d.length} ${at()}`); s.write(d); });
    s.on('end', () => { log.push(`server end ${at()}`); s.end(); });
    s.on('close', () => log.push(`server close ${at()}`));
  });
  server.listen(7, '10.0.0.1');
  for (let i = 0; i < 2; i++) {
    const c = net.connect(7, '10.0.0.1');
    for (const ev of ['connect', 'end', 'finish', 'close']) c.on(ev, () => log.push(`c${i} ${ev} ${at()}`));
    c.on('data', (d: Buffer) => log.push(`c${i} data ${d.length} ${at()}`));
    c.end(Buffer.alloc(20000 + i * 7000, i + 1));
    c.on('close', () => { if (i === 1) net.setTimeout(() => server.close(), 5); });
  }
  await net.run();
  return log;
}

test('the same seed gives the same events at the same virtual times; another seed differs', async () => {
  const a = await scripted(42);
  const b = await scripted(42);
  const c = await scripted(43);
  assert.ok(a.length > 10);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('a 30 s idle timeout takes no wall time', async () => {
  const net = createStack({ backend: 'sim', seed: 1 });
  const server = net.createServer(() => {});
  server.listen(80);
  const c = net.connect(80, '127.0.0.1');
  const fired: number[] = [];
  c.setTimeout(30000, () => { fired.push(net.now()); c.destroy(); });
  c.on('close', () => server.close());
  const wall = performance.now();
  await net.run();
  assert.equal(fired.length, 1);
  assert.ok(fired[0] >= 30000 && fired[0] < 30100, `fired at ${fired[0]}`);
  assert.ok(performance.now() - wall < 5000);
});

test('the core never sends past its credit: with a 1-byte send buffer every WRITE is 1 byte', async () => {
  const net = createStack({ backend: 'sim', seed: 5, sndbuf: 1, chunk: [1, 3] });
  const writes: number[] = [];
  let maxOutstanding = 0;
  // Watch the boundary itself: every WRITE command the core issues, and the credit it was given.
  let credit = 0;
  let sent = 0;
  let flushed = 0;
  const tap: Tap = {
    call(name, _now, args, _p, _r, outputs: readonly Output[]) {
      if (name === 'onWritten' && args[0] === clientHandle) { flushed += args[1]; credit = args[2]; }
      if (name === 'onConnect' && args[0] === clientHandle) credit = args[3];
      for (const o of outputs) {
        if (o.op === Op.CMD_WRITE && o.h === clientHandle) {
          assert.ok(o.data!.length <= credit, `WRITE of ${o.data!.length} bytes with ${credit} credit`);
          credit -= o.data!.length;
          sent += o.data!.length;
          writes.push(o.data!.length);
          maxOutstanding = Math.max(maxOutstanding, sent - flushed);
        }
      }
    },
  };
  stackOf(net).core.tap = tap;
  const got: Buffer[] = [];
  const server = net.createServer((s: Sock) => { s.on('data', (d: Buffer) => got.push(d)); s.on('end', () => s.end()); });
  server.listen(80);
  const c = net.connect(80, '127.0.0.1');
  let clientHandle = -1;
  c.on('connect', () => { clientHandle = (c as unknown as { _wasinetHandle: number })._wasinetHandle; });
  // The handle exists before connect completes; take it now so the tap sees onConnect too.
  clientHandle = (c as unknown as { _wasinetHandle: number })._wasinetHandle;
  const payload = Buffer.from('credit bounds every write, one byte at a time');
  c.end(payload);
  c.on('close', () => server.close());
  await net.run();
  assert.equal(Buffer.concat(got).toString(), payload.toString());
  assert.equal(writes.length, payload.length);
  assert.ok(writes.every((n) => n === 1));
  assert.equal(maxOutstanding, 1);
});

test('refusal and reset knobs: ECONNREFUSED, and ECONNRESET mid-stream', async () => {
  const refused = createStack({ backend: 'sim', seed: 3, refuse: 1 });
  refused.createServer().listen(80);
  const errs: string[] = [];
  const c = refused.connect(80, '127.0.0.1');
  c.on('error', (e: NodeJS.ErrnoException) => errs.push(`${e.code} ${e.message}`));
  await refused.run();
  assert.deepEqual(errs, ['ECONNREFUSED connect ECONNREFUSED 127.0.0.1:80']);

  const flaky = createStack({ backend: 'sim', seed: 3, reset: 1, chunk: [100, 100] });
  const serverErrors: string[] = [];
  const server = flaky.createServer((s: Sock) => { s.on('error', (e: NodeJS.ErrnoException) => serverErrors.push(e.code!)); s.resume(); });
  server.listen(80);
  const c2 = flaky.connect(80, '127.0.0.1');
  const clientEvents: string[] = [];
  c2.on('error', (e: NodeJS.ErrnoException) => clientEvents.push(`error ${e.code}`));
  c2.on('close', (hadError: boolean) => { clientEvents.push(`close ${hadError}`); server.close(); });
  c2.write(Buffer.alloc(1000));
  await flaky.run();
  assert.deepEqual(serverErrors, ['ECONNRESET']);
  assert.deepEqual(clientEvents, ['error ECONNRESET', 'close true']);
  assert.ok(flaky.network!.stats.injectedResets >= 1);
});

test('half-close: the server keeps writing after the client ended (allowHalfOpen)', async () => {
  const net = createStack({ backend: 'sim', seed: 11, latency: [1, 4] });
  const server = net.createServer({ allowHalfOpen: true }, (s: Sock) => {
    let n = 0;
    s.on('data', (d: Buffer) => { n += d.length; });
    s.on('end', () => {
      net.setTimeout(() => { s.write(`got ${n}`); s.end(); }, 100);
    });
  });
  server.listen(9);
  const c = net.connect({ port: 9, host: '127.0.0.1', allowHalfOpen: true });
  const got: Buffer[] = [];
  const order: string[] = [];
  c.on('data', (d: Buffer) => got.push(d));
  c.on('finish', () => order.push(`finish ${c.writable}`));
  c.on('end', () => order.push('end'));
  c.on('close', () => { order.push('close'); server.close(); });
  c.end(Buffer.alloc(12345));
  await net.run();
  assert.equal(Buffer.concat(got).toString(), 'got 12345');
  assert.deepEqual(order, ['finish false', 'end', 'close']);
});

test('IPC paths, EADDRINUSE, ENOENT and name resolution on the simulated network', async () => {
  const net = createStack({ backend: 'sim', seed: 2, hosts: { 'db.test': ['10.1.2.3'] } });
  const server = net.createServer((s: Sock) => s.end('over the sim pipe'));
  server.listen('/sim/app.sock');
  const dup = net.createServer();
  const errors: string[] = [];
  dup.on('error', (e: NodeJS.ErrnoException) => errors.push(`${e.code} ${e.message}`));
  dup.listen('/sim/app.sock');
  const c = net.connect('/sim/app.sock');
  const got: Buffer[] = [];
  c.on('data', (d: Buffer) => got.push(d));
  const missing = net.connect('/sim/nobody.sock');
  missing.on('error', (e: NodeJS.ErrnoException) => errors.push(`${e.code} ${e.message}`));
  const unknown = net.connect(80, 'nowhere.test');
  unknown.on('error', (e: NodeJS.ErrnoException) => errors.push(`${e.code} ${e.message}`));
  const db = net.createServer((s: Sock) => s.end(String(s.localAddress)));
  db.listen(5432, 'db.test');
  const byName = net.connect(5432, 'db.test');
  const dbGot: Buffer[] = [];
  byName.on('data', (d: Buffer) => dbGot.push(d));
  byName.on('close', () => { db.close(); server.close(); });
  await net.run();
  assert.equal(Buffer.concat(got).toString(), 'over the sim pipe');
  assert.equal(Buffer.concat(dbGot).toString(), '10.1.2.3');
  assert.deepEqual(errors.sort(), [
    'EADDRINUSE listen EADDRINUSE: address already in use /sim/app.sock',
    'ENOENT connect ENOENT /sim/nobody.sock',
    'ENOTFOUND getaddrinfo ENOTFOUND nowhere.test',
  ]);
});

test('two stacks on one network reach each other; each has its own core', async () => {
  const network = new SimNetwork({ seed: 9, latency: 2 });
  const a = createStack({ backend: 'sim', network });
  const b = createStack({ backend: 'sim', network });
  assert.notEqual(stackOf(a).core, stackOf(b).core);
  const server = a.createServer((s: Sock) => s.pipe(s));
  server.listen(1000, '10.0.0.1');
  const c = b.connect(1000, '10.0.0.1');
  const got: Buffer[] = [];
  c.on('data', (d: Buffer) => got.push(d));
  c.on('close', () => server.close());
  c.end('ping');
  await network.run();
  assert.equal(Buffer.concat(got).toString(), 'ping');
  assert.equal(stackOf(a).core.exports.liveSockets(), 0);
  assert.equal(stackOf(b).core.exports.liveSockets(), 0);
});

test('stack timers run on the virtual clock, in order, and can be cleared', async () => {
  const net = createStack({ backend: 'sim', seed: 1 });
  const fired: string[] = [];
  net.setTimeout(() => fired.push(`b@${net.now()}`), 2000);
  net.setTimeout(() => fired.push(`a@${net.now()}`), 1000);
  const id = net.setTimeout(() => fired.push('cleared'), 1500);
  net.clearTimeout(id);
  await net.run();
  assert.deepEqual(fired, ['a@1000', 'b@2000']);
});

test('a sim session hashes identically across runs (bytes and order)', async () => {
  const hashOf = async (seed: number) => {
    const net = createStack({ backend: 'sim', seed, chunk: [1, 999], latency: [0, 3] });
    const h = createHash('sha256');
    const server = net.createServer((s: Sock) => {
      s.on('data', (d: Buffer) => { h.update(`s${net.now()}:`); h.update(d); });
      s.on('end', () => s.end());
    });
    server.listen(1);
    const c = net.connect(1, '127.0.0.1');
    for (let i = 0; i < 50; i++) c.write(Buffer.alloc(777, i));
    c.end();
    c.on('close', () => server.close());
    await net.run();
    return h.digest('hex');
  };
  assert.equal(await hashOf(8), await hashOf(8));
  assert.notEqual(await hashOf(8), await hashOf(9));
});
