// The sandbox on the simulated network: every rule form and every limit, with the error's
// fields, and the network's own stats showing that a refused operation never reached it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStack, replay, SimNetwork } from '../../host/index.js';

type Net = ReturnType<typeof createStack>;

/** A server stack (no policy) and a client stack with `client` options, on one network. */
function pair(client: Record<string, unknown>, hosts?: Record<string, string[]>) {
  const network = new SimNetwork({ seed: 7, hosts: hosts ?? { localhost: ['127.0.0.1'] } });
  const server = createStack({ backend: 'sim', network });
  const net = createStack({ backend: 'sim', network, ...client });
  return { network, server, net };
}

async function listen(server: Net, port: number, host = '127.0.0.1', onConn?: (s: any) => void) {
  const srv = server.createServer((s: any) => { s.on('error', () => {}); onConn ? onConn(s) : s.end('hi'); });
  await new Promise<void>((r) => srv.listen(port, host, () => r()));
  return srv;
}

async function outcome(sock: any): Promise<{ events: string[]; error: any }> {
  const events: string[] = [];
  let error: any = null;
  for (const e of ['lookup', 'connectionAttempt', 'connectionAttemptFailed', 'connect', 'error', 'close']) {
    sock.on(e, (x: any) => { events.push(e); if (e === 'error') error = x; });
  }
  sock.resume(); // a connection that works ends when the server ends it
  await new Promise((r) => sock.once('close', r));
  return { events, error };
}

test('sim: a refused connect never reaches the network (stats), and looks like a refused one', async () => {
  const { network, server, net } = pair({ policy: { connect: ['10.0.0.0/8:*'] } });
  await listen(server, 4000);
  const before = network.stats.connects;
  const r = await outcome(net.connect(4000, '127.0.0.1'));
  assert.deepEqual(r.events, ['connectionAttempt', 'connectionAttemptFailed', 'error', 'close']);
  assert.equal(r.error.code, 'EACCES');
  assert.equal(r.error.errno, -13);
  assert.equal(r.error.syscall, 'connect');
  assert.equal(r.error.address, '127.0.0.1');
  assert.equal(r.error.port, 4000);
  assert.equal(network.stats.connects, before, 'no connection attempt on the network');
  // The same connect through a stack with no policy does reach it, refused or not.
  const free = createStack({ backend: 'sim', network });
  const r2 = await outcome(free.connect(4001, '127.0.0.1'));
  assert.equal(r2.error.code, 'ECONNREFUSED');
  assert.deepEqual(r2.events, r.events, 'the same place in the event order as a refused connect');
  assert.equal(network.stats.connects, before + 1);
});

test('sim: every HOST and PORTS form', async () => {
  const network = new SimNetwork({ seed: 3, hosts: { 'db.internal': ['10.1.2.3'], 'api.example.com': ['10.9.9.9'], 'evil.example.com': ['127.0.0.1'] } });
  const server = createStack({ backend: 'sim', network });
  await listen(server, 5432, '10.1.2.3');
  await listen(server, 443, '10.9.9.9');
  await listen(server, 443, '127.0.0.1');
  await listen(server, 80, '::1');
  const tryIt = async (rules: string[], port: number, host: string, family?: number) => {
    const net = createStack({ backend: 'sim', network, policy: { connect: rules } });
    const before = network.stats.connects;
    const r = await outcome(net.connect({ port, host, family } as any));
    const reached = network.stats.connects > before;
    if (r.error) { assert.equal(r.error.code, 'EACCES', `${rules} ${host}:${port}: ${r.error.message}`); assert.equal(reached, false); }
    return r.error === null;
  };
  assert.equal(await tryIt(['10.1.2.3:5432'], 5432, '10.1.2.3'), true);
  assert.equal(await tryIt(['10.0.0.0/8:5430-5439'], 5432, '10.1.2.3'), true);
  assert.equal(await tryIt(['10.0.0.0/16:*'], 5432, '10.1.2.3'), false);
  assert.equal(await tryIt(['[::1]:80'], 80, '::1'), true);
  assert.equal(await tryIt(['[::]/0:*'], 80, '::1'), true);
  assert.equal(await tryIt(['[::1]:81'], 80, '::1'), false);
  // Names: the name is allowed, then its addresses are checked again.
  assert.equal(await tryIt(['db.internal:5432', '10.1.2.3:5432'], 5432, 'db.internal'), true);
  assert.equal(await tryIt(['db.internal:5432'], 5432, 'db.internal'), false, 'no rule allows 10.1.2.3');
  assert.equal(await tryIt(['*.example.com:443', '10.0.0.0/8:443'], 443, 'api.example.com'), true);
  assert.equal(await tryIt(['*.example.com:443', '10.0.0.0/8:443'], 443, 'evil.example.com'), false, 'rebinding to loopback');
  assert.equal(await tryIt(['*.example.com:443', '10.0.0.0/8:443'], 443, 'example.com'), false, '*.suffix needs a label before it');
  assert.equal(await tryIt(['*:443'], 443, 'evil.example.com'), true);
});

test('sim: with several addresses, each refused one is a failed attempt and the next is tried', async () => {
  const network = new SimNetwork({ seed: 5, hosts: { 'svc.test': ['10.0.0.1', '::1'] } });
  const server = createStack({ backend: 'sim', network });
  await listen(server, 7000, '::1');
  const net = createStack({ backend: 'sim', network, policy: { connect: ['svc.test:7000', '[::1]:7000'] } });
  const failed: any[] = [];
  const c = net.connect({ port: 7000, host: 'svc.test', autoSelectFamily: true });
  c.on('connectionAttemptFailed', (address: string, port: number, family: number, err: any) => failed.push([address, err.code]));
  await new Promise((r) => c.once('connect', r));
  assert.deepEqual(failed, [['10.0.0.1', 'EACCES']]);
  assert.equal(c.remoteAddress, '::1');
  c.destroy();
});

test('sim: listen and IPC rules; refused ones never reach the network', async () => {
  const network = new SimNetwork({ seed: 9 });
  const net = createStack({ backend: 'sim', network, policy: { listen: ['127.0.0.1:8000-8099'], ipc: ['/run/p7/'] } });
  const errOf = (f: (s: any) => void) => new Promise<any>((r) => { const s = net.createServer(); s.on('error', r); s.on('listening', () => r(null)); f(s); });
  assert.equal(await errOf((s) => s.listen(8050, '127.0.0.1')), null);
  const e = await errOf((s) => s.listen(9000, '127.0.0.1'));
  assert.equal(e.code, 'EACCES'); assert.equal(e.syscall, 'listen'); assert.equal(e.address, '127.0.0.1'); assert.equal(e.port, 9000);
  assert.equal((await errOf((s) => s.listen(0, '127.0.0.1'))).code, 'EACCES');
  assert.equal(await errOf((s) => s.listen('/run/p7/a.sock')), null);
  const ipcErr = await errOf((s) => s.listen('/run/p7/../p8/a.sock'));
  assert.equal(ipcErr.code, 'EACCES');
  assert.equal(ipcErr.address, '/run/p7/../p8/a.sock');
  // Nobody listens on the refused path or port: another stack's connect is refused.
  const other = createStack({ backend: 'sim', network });
  assert.equal((await outcome(other.connect('/run/p8/a.sock'))).error.code, 'ENOENT');
  assert.equal((await outcome(other.connect(9000, '127.0.0.1'))).error.code, 'ECONNREFUSED');
  const before = network.stats.connects;
  assert.equal((await outcome(net.connect('/run/p9.sock'))).error.code, 'EACCES');
  assert.equal(network.stats.connects, before);
});

test('sim: sockets limit: connect beyond is EMFILE; an accepted one beyond is closed and counted', async () => {
  const { network, server, net } = pair({ limits: { sockets: 2 } });
  await listen(server, 4000, '127.0.0.1', () => {});
  const a = net.connect(4000, '127.0.0.1');
  const b = net.connect(4000, '127.0.0.1');
  await Promise.all([a, b].map((s) => new Promise((r) => s.once('connect', r))));
  assert.equal(net.usage().sockets.used, 2);
  const before = network.stats.connects;
  const r = await outcome(net.connect(4000, '127.0.0.1'));
  assert.equal(r.error.code, 'EMFILE');
  assert.equal(r.error.syscall, 'connect');
  assert.equal(r.error.errno, -24);
  assert.deepEqual(r.events, ['connectionAttempt', 'error', 'close'], 'a connect call that failed at once, as libuv fails it');
  assert.equal(network.stats.connects, before, 'the EMFILE connect never reached the network');
  a.destroy();
  await new Promise((r2) => a.once('close', r2));
  assert.equal(net.usage().sockets.used, 1, 'a closed socket frees its place');
  // Accepting: a server stack with room for one connection.
  const limited = createStack({ backend: 'sim', network, limits: { sockets: 1 } });
  let accepted = 0;
  const srv = limited.createServer((s: any) => { accepted++; s.on('error', () => {}); });
  await new Promise<void>((r3) => srv.listen(5000, '127.0.0.1', () => r3()));
  const c1 = server.connect(5000, '127.0.0.1');
  await new Promise((r4) => c1.once('connect', r4));
  const c2 = server.connect(5000, '127.0.0.1');
  c2.on('error', () => {});
  await new Promise((r5) => c2.once('close', r5));
  assert.equal(accepted, 1);
  assert.equal(limited.usage().dropped, 1);
  assert.equal(srv.listening, true, 'the server stays up');
  b.destroy(); c1.destroy();
});

test('sim: listeners limit is EMFILE on listen', async () => {
  const net = createStack({ backend: 'sim', limits: { listeners: 1 } });
  const s1 = net.createServer();
  await new Promise<void>((r) => s1.listen(1000, () => r()));
  const err: any = await new Promise((r) => { const s2 = net.createServer(); s2.on('error', r); s2.listen(1001); });
  assert.equal(err.code, 'EMFILE');
  assert.equal(err.syscall, 'listen');
  assert.equal(err.port, 1001);
  assert.equal(net.usage().listeners.used, 1);
  await new Promise((r) => s1.close(r));
  assert.equal(net.usage().listeners.used, 0);
  const s3 = net.createServer();
  await new Promise<void>((r) => s3.listen(1002, () => r()));
  s3.close();
});

/** Two sockets write 20000 bytes each over 1-byte credit; the peak the core held, and what arrived. */
async function bufferRun(limits: Record<string, number>) {
  const network = new SimNetwork({ seed: 4, sndbuf: 1, chunk: [1, 512] });
  const server = createStack({ backend: 'sim', network });
  const net = createStack({ backend: 'sim', network, limits });
  let most = 0;
  let mostOne = 0;
  // Sampled between inputs, whenever the peer reads and whenever a write is handed over.
  const sample = () => { const u = net.usage(); most = Math.max(most, u.stackBuffer.used); mostOne = Math.max(mostOne, u.socketBuffer.used); };
  const got = new Map<number, Buffer[]>();
  const ended: Promise<void>[] = [];
  const srv = server.createServer((s: any) => {
    const parts: Buffer[] = [];
    got.set(s.remotePort, parts);
    s.on('data', (d: Buffer) => { parts.push(d); sample(); });
    ended.push(new Promise((r) => s.once('end', r)));
  });
  await new Promise<void>((r) => srv.listen(6000, '127.0.0.1', () => r()));
  const socks = [net.connect(6000, '127.0.0.1'), net.connect(6000, '127.0.0.1')];
  await Promise.all(socks.map((s) => new Promise((r) => s.once('connect', r))));
  const payload = (i: number) => Buffer.from(Array.from({ length: 20000 }, (_, k) => (k * 7 + i) & 255));
  // One write request each: the host offers it to the core piece by piece; the core keeps what
  // its bound allows and the Writable the rest (its writableLength counts the whole request until
  // done, so write() answers false past the highWaterMark, as node:net's).
  const falses = socks.map((s, i) => (s.write(payload(i)) ? 0 : 1));
  sample();
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.end(() => r()))));
  await Promise.all(ended);
  const bodies = socks.map((s) => Buffer.concat(got.get(s.localPort!) ?? []));
  return { most, mostOne, falses, bodies, payload };
}

test('sim: socketBuffer and stackBuffer bound what the core holds; no byte is lost', async () => {
  const free = await bufferRun({});
  assert.ok(free.mostOne > 3000, `without limits the core holds more (${free.mostOne}): the bound below is a real one`);
  const r = await bufferRun({ socketBuffer: 3000, stackBuffer: 4000 });
  assert.ok(r.most <= 4000, `stackBuffer held ${r.most}`);
  assert.ok(r.mostOne <= 3000, `socketBuffer held ${r.mostOne}`);
  assert.ok(r.most > 0, 'the core did queue bytes');
  assert.deepEqual(r.falses, [1, 1], 'write() returned false (backpressure as node:net)');
  assert.deepEqual(r.bodies.map((b) => b.length), [20000, 20000]);
  r.bodies.forEach((b, i) => assert.ok(b.equals(r.payload(i)), `socket ${i}: every byte, in order`));
});

test('sim: socketBuffer on the receive side: reads larger than the room are taken in part; every byte in order, no error; the trace replays', async () => {
  // onread with a 100-byte buffer: each delivery of up to 8 KiB gives one bufferful and queues
  // the rest, which a 2000-byte socketBuffer cannot hold: the core takes part, the rest comes later.
  const network = new SimNetwork({ seed: 11, chunk: [1, 8192] });
  const server = createStack({ backend: 'sim', network });
  const file = join(mkdtempSync(join(tmpdir(), 'wasinet-sim-rx-')), 'rx.trace');
  const net = createStack({ backend: 'sim', network, limits: { socketBuffer: 2000 }, record: file });
  const payload = Buffer.from(Array.from({ length: 50000 }, (_, k) => (k * 13 + (k >> 8)) & 255));
  const srv = server.createServer((s: any) => { s.end(payload); });
  await new Promise<void>((r) => srv.listen(6100, '127.0.0.1', () => r()));
  const parts: Buffer[] = [];
  let most = 0;
  const c = net.connect({
    port: 6100, host: '127.0.0.1',
    onread: { buffer: Buffer.alloc(100), callback: (n: number, b: Uint8Array) => { parts.push(Buffer.from(b.subarray(0, n))); most = Math.max(most, net.usage().socketBuffer.used); return true; } },
  });
  const errors: Error[] = [];
  c.on('error', (e: Error) => errors.push(e));
  await new Promise((r) => c.once('close', r));
  srv.close();
  await net.recorder!.close();
  assert.deepEqual(errors, []);
  const got = Buffer.concat(parts);
  assert.equal(got.length, payload.length);
  assert.ok(got.equals(payload), 'every byte, in order');
  assert.ok(most > 100 && most <= 2000, `the core held ${most} B at most`);
  const r = replay(file);
  assert.equal(r.ok, true, JSON.stringify(r.divergence));
});

test('sim: sent and received quotas fail the socket that crosses with EDQUOT', async () => {
  const { server, net } = pair({ limits: { sent: 1000, received: 500 } });
  await listen(server, 4000, '127.0.0.1', (s) => s.on('data', () => {}));
  const c = net.connect(4000, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  assert.equal(c.write(Buffer.alloc(600)), true);
  const r = outcome(c);
  c.write(Buffer.alloc(600));
  const { error } = await r;
  assert.equal(error.code, 'EDQUOT');
  assert.equal(error.syscall, 'write');
  assert.match(error.message, /sent byte quota \(limits\.sent\)/);
  assert.equal(net.usage().sent.used, 600);
  // Received: the peer sends more than the quota.
  const rx = createStack({ backend: 'sim', network: net.network!, limits: { received: 500 } });
  const srv2 = server.createServer((s: any) => { s.on('error', () => {}); s.write(Buffer.alloc(400)); setTimeout(() => s.write(Buffer.alloc(400)), 5); });
  await new Promise<void>((res) => srv2.listen(4001, '127.0.0.1', () => res()));
  const d = rx.connect(4001, '127.0.0.1');
  let bytes = 0;
  d.on('data', (b: Buffer) => { bytes += b.length; });
  const { error: e2 } = await outcome(d);
  assert.equal(e2.code, 'EDQUOT');
  assert.equal(e2.syscall, 'read');
  assert.match(e2.message, /received byte quota/);
  assert.ok(bytes <= 500, `delivered ${bytes}`);
  assert.equal(rx.usage().received.used, bytes);
});
