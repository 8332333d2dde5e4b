// createStack({ limits }) on real sockets (node:net peers): EMFILE beyond sockets/listeners,
// bounded core buffers with no byte lost, EDQUOT quotas, usage(). (The sim: sandbox-sim.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { createHash } from 'node:crypto';
import { createStack, replay, formatDivergence } from '../../host/index.js';
import { pattern, patternHash, sendPattern, sockPath } from './helpers.js';

async function nodeServer(onConn: (s: nodeNet.Socket) => void) {
  let n = 0;
  const srv = nodeNet.createServer((s) => { n++; s.on('error', () => {}); onConn(s); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return { port: (srv.address() as nodeNet.AddressInfo).port, count: () => n, close: () => new Promise<void>((r) => { srv.close(() => r()); }) };
}

function errorOf(sock: { once(e: string, f: (x: any) => void): unknown }): Promise<any> {
  return new Promise((r) => sock.once('error', r));
}

test('sockets: a connect beyond the limit is EMFILE and never reaches the peer', { timeout: 20000 }, async () => {
  const held: nodeNet.Socket[] = [];
  const peer = await nodeServer((s) => held.push(s));
  const net = createStack({ limits: { sockets: 2 } });
  const a = net.connect(peer.port, '127.0.0.1');
  const b = net.connect(peer.port, '127.0.0.1');
  await Promise.all([a, b].map((s) => new Promise((r) => s.once('connect', r))));
  const c = net.connect(peer.port, '127.0.0.1');
  const err = await errorOf(c);
  assert.equal(err.code, 'EMFILE');
  assert.equal(err.errno, -24);
  assert.equal(err.syscall, 'connect');
  assert.equal(err.address, '127.0.0.1');
  assert.equal(err.port, peer.port);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(peer.count(), 2, 'the peer saw only the two allowed connections');
  assert.deepEqual(net.usage().sockets, { used: 2, limit: 2 });
  a.destroy();
  await new Promise((r) => a.once('close', r));
  const d = net.connect(peer.port, '127.0.0.1');
  await new Promise((r) => d.once('connect', r));
  b.destroy(); d.destroy();
  held.forEach((s) => s.destroy());
  await peer.close();
});

test('sockets: an accepted connection beyond the limit is closed at once and counted; the server stays up', { timeout: 20000 }, async () => {
  const net = createStack({ limits: { sockets: 1 } });
  let accepted = 0;
  const srv = net.createServer((s) => { accepted++; s.on('error', () => {}); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as nodeNet.AddressInfo).port;
  const first = nodeNet.connect(port, '127.0.0.1');
  await new Promise((r) => first.once('connect', r));
  const second = nodeNet.connect(port, '127.0.0.1');
  second.on('error', () => {});
  second.resume();
  await new Promise((r) => second.once('close', r)); // closed by the server at once
  assert.equal(accepted, 1);
  assert.equal(net.usage().dropped, 1);
  assert.equal(srv.listening, true);
  first.destroy();
  await new Promise((r) => setTimeout(r, 50));
  const third = nodeNet.connect(port, '127.0.0.1');
  await new Promise((r) => third.once('connect', r));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(accepted, 2, 'room again once the first one closed');
  third.destroy();
  await new Promise((r) => srv.close(r));
});

test('listeners: a listen beyond the limit is EMFILE with syscall listen, and binds nothing', { timeout: 20000 }, async () => {
  const net = createStack({ limits: { listeners: 1 } });
  const s1 = net.createServer();
  await new Promise<void>((r) => s1.listen(0, '127.0.0.1', () => r()));
  const s2 = net.createServer();
  const err: any = await new Promise((r) => { s2.on('error', r); s2.listen(0, '127.0.0.1'); });
  assert.equal(err.code, 'EMFILE');
  assert.equal(err.errno, -24);
  assert.equal(err.syscall, 'listen');
  assert.equal(err.address, '127.0.0.1');
  assert.equal(s2.listening, false);
  assert.deepEqual(net.usage().listeners, { used: 1, limit: 1 });
  await new Promise((r) => s1.close(r));
  assert.equal(net.usage().listeners.used, 0);
});

test('socketBuffer/stackBuffer: the core never holds more; write() backpressure; every byte arrives', { timeout: 60000 }, async () => {
  const SIZE = 24 << 20;
  const peerBox: { s: nodeNet.Socket | null } = { s: null };
  const peer = await nodeServer((s) => { peerBox.s = s; s.pause(); });
  const net = createStack({ limits: { socketBuffer: 20000, stackBuffer: 30000 } });
  const c = net.connect(peer.port, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  let most = 0;
  let falses = 0;
  const sample = () => { most = Math.max(most, net.usage().socketBuffer.used, net.usage().stackBuffer.used); };
  // Write while the peer does not read: the kernel, then the transport, then the core fill up.
  const writing = (async () => {
    for (const b of pattern(3, SIZE)) {
      sample();
      if (!c.write(b)) { falses++; await new Promise((r) => c.once('drain', r)); }
    }
    c.end();
  })();
  await new Promise((r) => setTimeout(r, 300));
  sample();
  assert.ok(falses > 0, 'write() returned false');
  const got = (async () => {
    while (!peerBox.s) await new Promise((r) => setTimeout(r, 5));
    const ps = peerBox.s;
    const h = createHash('sha256');
    let n = 0;
    ps.on('data', (d: Buffer) => { h.update(d); n += d.length; sample(); });
    ps.resume();
    await new Promise((r) => ps.once('end', r));
    return { hash: h.digest('hex'), n };
  })();
  await writing;
  const { hash, n } = await got;
  assert.equal(n, SIZE);
  assert.equal(hash, patternHash(3, SIZE));
  // On the node backend the transport takes a request whole (1 MiB of credit) and the Writable
  // keeps the rest, so the core rarely queues here; sandbox-sim drives its queue to the bound.
  assert.ok(most <= 20000, `held ${most}`);
  c.destroy();
  await peer.close();
});

test('socketBuffer on the receive side: a read larger than the room left is taken in part, the rest offered again after READ_START; every byte in order, no error, also recorded and replayed', { timeout: 60000 }, async () => {
  // onread with a 1 KiB buffer: each 64 KiB read gives one bufferful at once and queues the rest
  // in the core, which an 8 KiB socketBuffer cannot hold (this failed with ENOBUFS before).
  const SIZE = 1 << 20;
  const LIMIT = 8192;
  for (const record of [undefined, sockPath('rx-limit').replace(/\.sock$/, '.trace')]) {
    const peer = await nodeServer((s) => { void sendPattern(s, 9, SIZE); });
    const net = createStack({ limits: { socketBuffer: LIMIT }, ...(record ? { record } : {}) });
    const h = createHash('sha256');
    let n = 0;
    let most = 0;
    const buffer = Buffer.alloc(1024);
    const c = net.connect({
      port: peer.port, host: '127.0.0.1',
      onread: { buffer, callback: (k: number, b: Uint8Array) => { h.update(b.subarray(0, k)); n += k; most = Math.max(most, net.usage().socketBuffer.used); return true; } },
    });
    const errors: Error[] = [];
    c.on('error', (e: Error) => errors.push(e));
    await new Promise((r) => c.once('close', r));
    assert.deepEqual(errors, []);
    assert.equal(n, SIZE);
    assert.equal(h.digest('hex'), patternHash(9, SIZE));
    assert.ok(most > 0 && most <= LIMIT, `the core held ${most} B at most`);
    await peer.close();
    if (record) {
      await net.recorder!.close();
      const r = replay(record);
      assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
    }
  }
});

test('sent/received quotas: EDQUOT on the socket that crossed, with a clear message', { timeout: 20000 }, async () => {
  const peer = await nodeServer((s) => { s.resume(); s.write(Buffer.alloc(3000)); });
  const net = createStack({ limits: { sent: 10000, received: 2000 } });
  const c = net.connect(peer.port, '127.0.0.1');
  let got = 0;
  c.on('data', (d) => { got += d.length; });
  const err = await errorOf(c);
  assert.equal(err.code, 'EDQUOT');
  assert.equal(err.syscall, 'read');
  assert.match(err.message, /^read EDQUOT: the stack's received byte quota \(limits\.received\) is used up$/);
  assert.ok(got <= 2000);
  assert.equal(net.usage().received.used, got);
  const w = net.connect(peer.port, '127.0.0.1');
  w.on('data', () => {});
  await new Promise((r) => w.once('connect', r));
  const werr = errorOf(w);
  w.write(Buffer.alloc(6000));
  w.write(Buffer.alloc(6000));
  const e2 = await werr;
  assert.equal(e2.code, 'EDQUOT');
  assert.equal(e2.syscall, 'write');
  assert.match(e2.message, /sent byte quota \(limits\.sent\)/);
  assert.equal(net.usage().sent.used, 6000);
  await peer.close();
});

test('limits: bad values throw as Node does for numeric options', () => {
  assert.throws(() => createStack({ limits: { sockets: -1 } }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => createStack({ limits: { sockets: 1.5 } }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => createStack({ limits: { sent: '1' as never } }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => createStack({ limits: 3 as never }), { code: 'ERR_INVALID_ARG_TYPE' });
});
