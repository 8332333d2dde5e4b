// server.listen() in every form: (port[, host[, backlog]][, cb]), (path[, backlog][, cb]),
// (options[, cb]) and (handle[, backlog][, cb]). Every test runs on node:net and on wasinet with
// the same assertions; clients are node:net.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { lookup } from 'node:dns/promises';
import { existsSync, statSync } from 'node:fs';
import { libs, sockPath, freePort, sleep, until } from './helpers.js';
import {
  listenOk, listenErr, listenOutcome, own, disposeAll, portOf, probe, fetchReply, closeServer, startChild, libSpecifier,
  type Server, type Socket,
} from './server-util.js';

afterEach(disposeAll);

/** A server of `net` that answers every connection with `reply` and ends. */
function replier(net: typeof nodeNet, reply: string, opts: nodeNet.ServerOpts = {}): Server {
  return net.createServer(opts, (s: Socket) => { s.on('error', () => {}); s.end(reply); });
}

/** Calls listen(...args, cb) and checks that neither cb nor 'listening' ran before listen() returned. */
async function listenAsync(server: Server, args: unknown[]): Promise<{ cbArgs: unknown[]; order: string[] }> {
  own(server);
  const order: string[] = [];
  let cbArgs: unknown[] = [];
  server.on('listening', () => order.push('event'));
  const done = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    (server.listen as (...a: unknown[]) => unknown)(...args, (...a: unknown[]) => { cbArgs = a; order.push('cb'); resolve(); });
  });
  order.push('returned');
  await done;
  return { cbArgs, order };
}

const hasIPv6 = await new Promise<boolean>((resolve) => {
  const s = nodeNet.createServer();
  s.once('error', () => resolve(false));
  s.listen(0, '::1', () => s.close(() => resolve(true)));
});

for (const [lib, net] of libs) {
  // ------------------------------------------------------------------ (port[, host[, backlog]][, cb])

  test(`${lib}: listen() with no arguments picks an ephemeral port on '::' (IPv6)`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const server = replier(net, 'any');
    const addr = await listenOk(server) as nodeNet.AddressInfo;
    assert.equal(addr.address, '::');
    assert.equal(addr.family, 'IPv6');
    assert.ok(Number.isInteger(addr.port) && addr.port > 0 && addr.port < 65536, `port ${addr.port}`);
    // Dual stack: reachable over IPv4 and IPv6 loopback.
    assert.equal(await fetchReply(addr.port, '127.0.0.1'), 'any');
    assert.equal(await fetchReply(addr.port, '::1'), 'any');
    await closeServer(server);
  });

  test(`${lib}: listen(cb): the callback runs on 'listening', asynchronously, with no arguments`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const server = replier(net, 'cb');
    const { cbArgs, order } = await listenAsync(server, []);
    assert.deepEqual(order, ['returned', 'event', 'cb']);
    assert.deepEqual(cbArgs, []);
    const addr = server.address() as nodeNet.AddressInfo;
    assert.equal(addr.address, '::');
    assert.ok(addr.port > 0);
    await closeServer(server);
  });

  test(`${lib}: listen(0) and listen(0, cb) pick an ephemeral port on '::'`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const a = replier(net, 'a');
    const addrA = await listenOk(a, 0) as nodeNet.AddressInfo;
    const b = replier(net, 'b');
    const { order } = await listenAsync(b, [0]);
    const addrB = b.address() as nodeNet.AddressInfo;
    assert.deepEqual(order, ['returned', 'event', 'cb']);
    for (const addr of [addrA, addrB]) {
      assert.equal(addr.address, '::');
      assert.equal(addr.family, 'IPv6');
      assert.ok(addr.port > 0);
    }
    assert.notEqual(addrA.port, addrB.port);
    assert.equal(await fetchReply(addrA.port), 'a');
    assert.equal(await fetchReply(addrB.port), 'b');
    await closeServer(a);
    await closeServer(b);
  });

  test(`${lib}: listen(port, host): a given port on 127.0.0.1`, { timeout: 10000 }, async () => {
    const port = await freePort();
    const server = replier(net, 'fixed');
    const addr = await listenOk(server, port, '127.0.0.1');
    assert.deepEqual(addr, { address: '127.0.0.1', family: 'IPv4', port });
    assert.equal(await fetchReply(port), 'fixed');
    await closeServer(server);
  });

  test(`${lib}: listen(port as a numeric string, host) is the port`, { timeout: 10000 }, async () => {
    const port = await freePort();
    const server = replier(net, 'string port');
    const addr = await listenOk(server, String(port), '127.0.0.1');
    assert.deepEqual(addr, { address: '127.0.0.1', family: 'IPv4', port });
    assert.equal(await fetchReply(port), 'string port');
    await closeServer(server);
  });

  test(`${lib}: listen(0, host, cb) and listen(0, host, backlog, cb)`, { timeout: 10000 }, async () => {
    const a = replier(net, 'a');
    const ra = await listenAsync(a, [0, '127.0.0.1']);
    const b = replier(net, 'b');
    const rb = await listenAsync(b, [0, '127.0.0.1', 5]);
    for (const [s, r] of [[a, ra], [b, rb]] as const) {
      assert.deepEqual(r.order, ['returned', 'event', 'cb']);
      const addr = s.address() as nodeNet.AddressInfo;
      assert.equal(addr.address, '127.0.0.1');
      assert.equal(addr.family, 'IPv4');
    }
    assert.equal(await fetchReply(portOf(a)), 'a');
    assert.equal(await fetchReply(portOf(b)), 'b');
    await closeServer(a);
    await closeServer(b);
  });

  test(`${lib}: listen(0, backlog, cb): a number as second argument is the backlog, host stays '::'`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const server = replier(net, 'backlog');
    const { order } = await listenAsync(server, [0, 10]);
    assert.deepEqual(order, ['returned', 'event', 'cb']);
    const addr = server.address() as nodeNet.AddressInfo;
    assert.equal(addr.address, '::');
    assert.equal(await fetchReply(addr.port), 'backlog');
    await closeServer(server);
  });

  test(`${lib}: listen(0, '::1') listens on IPv6 loopback only`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const server = replier(net, 'v6');
    const addr = await listenOk(server, 0, '::1') as nodeNet.AddressInfo;
    assert.equal(addr.address, '::1');
    assert.equal(addr.family, 'IPv6');
    assert.equal(await fetchReply(addr.port, '::1'), 'v6');
    assert.equal(await probe(addr.port, '127.0.0.1'), 'ECONNREFUSED');
    await closeServer(server);
  });

  test(`${lib}: listen(0, 'localhost') listens on what dns.lookup('localhost') gives first`, { timeout: 10000 }, async () => {
    const first = await lookup('localhost');
    const server = replier(net, 'localhost');
    const addr = await listenOk(server, 0, 'localhost') as nodeNet.AddressInfo;
    assert.equal(addr.address, first.address);
    assert.equal(addr.family, first.family === 6 ? 'IPv6' : 'IPv4');
    assert.equal(await fetchReply(addr.port, first.address), 'localhost');
    await closeServer(server);
  });

  test(`${lib}: listen(undefined, host) and listen(null, host) pick an ephemeral port`, { timeout: 10000 }, async () => {
    for (const p of [undefined, null]) {
      const server = replier(net, 'nullish');
      const addr = await listenOk(server, p, '127.0.0.1') as nodeNet.AddressInfo;
      assert.equal(addr.address, '127.0.0.1');
      assert.ok(addr.port > 0);
      assert.equal(await fetchReply(addr.port), 'nullish');
      await closeServer(server);
    }
  });

  // ------------------------------------------------------------------ (path[, backlog][, cb])

  test(`${lib}: listen(path), listen(path, cb), listen(path, backlog, cb)`, { timeout: 10000 }, async () => {
    const forms: unknown[][] = [[], [5]];
    const servers: Server[] = [];
    const p0 = sockPath('plain');
    const s0 = replier(net, 'p0');
    assert.equal(await listenOk(s0, p0), p0);
    servers.push(s0);
    for (const [i, extra] of forms.entries()) {
      const p = sockPath(`form${i}`);
      const s = replier(net, `p${i + 1}`);
      const { order, cbArgs } = await listenAsync(s, [p, ...extra]);
      assert.deepEqual(order, ['returned', 'event', 'cb']);
      assert.deepEqual(cbArgs, []);
      assert.equal(s.address(), p);
      assert.ok(statSync(p).isSocket());
      assert.equal(await fetchReply(p), `p${i + 1}`);
      servers.push(s);
    }
    assert.equal(await fetchReply(p0), 'p0');
    for (const s of servers) await closeServer(s);
  });

  // ------------------------------------------------------------------ (options[, cb])

  test(`${lib}: listen({ port, host }, cb) and listen({ port: 0 }) (host '::')`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const a = replier(net, 'a');
    const { order } = await listenAsync(a, [{ port: 0, host: '127.0.0.1' }]);
    assert.deepEqual(order, ['returned', 'event', 'cb']);
    assert.equal((a.address() as nodeNet.AddressInfo).address, '127.0.0.1');
    const b = replier(net, 'b');
    const addrB = await listenOk(b, { port: 0 }) as nodeNet.AddressInfo;
    assert.equal(addrB.address, '::');
    assert.equal(addrB.family, 'IPv6');
    assert.equal(await fetchReply(portOf(a)), 'a');
    assert.equal(await fetchReply(addrB.port), 'b');
    await closeServer(a);
    await closeServer(b);
  });

  test(`${lib}: listen({ port: undefined, host }) and listen({ port: null, host }) pick an ephemeral port`, { timeout: 10000 }, async () => {
    for (const port of [undefined, null]) {
      const server = replier(net, 'opt nullish');
      const addr = await listenOk(server, { port, host: '127.0.0.1' }) as nodeNet.AddressInfo;
      assert.equal(addr.address, '127.0.0.1');
      assert.ok(addr.port > 0);
      assert.equal(await fetchReply(addr.port), 'opt nullish');
      await closeServer(server);
    }
  });

  test(`${lib}: listen({ port, host, backlog, exclusive: true })`, { timeout: 10000 }, async () => {
    const port = await freePort();
    const server = replier(net, 'exclusive');
    const addr = await listenOk(server, { port, host: '127.0.0.1', backlog: 3, exclusive: true });
    assert.deepEqual(addr, { address: '127.0.0.1', family: 'IPv4', port });
    assert.equal(await fetchReply(port), 'exclusive');
    await closeServer(server);
  });

  test(`${lib}: listen({ path, backlog, exclusive }, cb)`, { timeout: 10000 }, async () => {
    const p = sockPath('opts');
    const server = replier(net, 'path opts');
    const { order } = await listenAsync(server, [{ path: p, backlog: 4, exclusive: true }]);
    assert.deepEqual(order, ['returned', 'event', 'cb']);
    assert.equal(server.address(), p);
    assert.equal(await fetchReply(p), 'path opts');
    await closeServer(server);
    assert.equal(existsSync(p), false);
  });

  test(`${lib}: listen({ host: '::', ipv6Only: true }) refuses IPv4 connections`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const server = replier(net, 'v6only');
    const addr = await listenOk(server, { port: 0, host: '::', ipv6Only: true }) as nodeNet.AddressInfo;
    assert.equal(addr.address, '::');
    assert.equal(addr.family, 'IPv6');
    assert.equal(await fetchReply(addr.port, '::1'), 'v6only');
    assert.equal(await probe(addr.port, '127.0.0.1'), 'ECONNREFUSED');
    await closeServer(server);
  });

  test(`${lib}: listen({ host: '::', ipv6Only: false }) accepts IPv4 connections (dual stack)`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const server = replier(net, 'dual');
    const addr = await listenOk(server, { port: 0, host: '::', ipv6Only: false }) as nodeNet.AddressInfo;
    assert.equal(await fetchReply(addr.port, '127.0.0.1'), 'dual');
    assert.equal(await fetchReply(addr.port, '::1'), 'dual');
    await closeServer(server);
  });

  test(`${lib}: ipv6Only lets an IPv4 server share the port number`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const v6 = replier(net, 'six');
    const { port } = await listenOk(v6, { port: 0, host: '::', ipv6Only: true }) as nodeNet.AddressInfo;
    const v4 = replier(net, 'four');
    const addr4 = await listenOk(v4, { port, host: '127.0.0.1' });
    assert.deepEqual(addr4, { address: '127.0.0.1', family: 'IPv4', port });
    assert.equal(await fetchReply(port, '::1'), 'six');
    assert.equal(await fetchReply(port, '127.0.0.1'), 'four');
    await closeServer(v6);
    await closeServer(v4);
  });

  // ------------------------------------------------------------------ (handle[, backlog][, cb])

  test(`${lib}: listen(otherServer) with a listening node:net server takes over its handle`, { timeout: 10000 }, async () => {
    const other = replier(nodeNet, 'other');
    await listenOk(other, 0, '127.0.0.1');
    const port = portOf(other);
    const server = replier(net, 'taker');
    const addr = await listenOk(server, other);
    assert.deepEqual(addr, { address: '127.0.0.1', family: 'IPv4', port });
    assert.equal(server.listening, true);
    assert.equal(await fetchReply(port), 'taker', 'connections now go to the new server');
    await closeServer(server);
    await closeServer(other);
  });

  test(`${lib}: listen(otherServer) with a listening server of the same library takes over its handle`, { timeout: 10000 }, async () => {
    const other = replier(net, 'other');
    await listenOk(other, 0, '127.0.0.1');
    const port = portOf(other);
    const server = replier(net, 'taker');
    const addr = await listenOk(server, other);
    assert.deepEqual(addr, { address: '127.0.0.1', family: 'IPv4', port });
    assert.equal(await fetchReply(port), 'taker');
    await closeServer(server);
    await closeServer(other);
  });

  test(`${lib}: listen({ handle: otherServer._handle }) and listen({ _handle }) with a node:net server`, { timeout: 10000 }, async () => {
    for (const key of ['handle', '_handle']) {
      const other = replier(nodeNet, 'other');
      await listenOk(other, 0, '127.0.0.1');
      const port = portOf(other);
      const server = replier(net, `via ${key}`);
      const addr = await listenOk(server, { [key]: (other as unknown as { _handle: unknown })._handle });
      assert.deepEqual(addr, { address: '127.0.0.1', family: 'IPv4', port });
      assert.equal(await fetchReply(port), `via ${key}`);
      await closeServer(server);
      await closeServer(other);
    }
  });

  test(`${lib}: listen(connectedSocket) fails with EINVAL from listen (address null, port -1)`, { timeout: 10000 }, async () => {
    const peer = nodeNet.createServer((s) => { s.on('error', () => {}); });
    await listenOk(peer, 0, '127.0.0.1');
    const sock = own(nodeNet.connect(portOf(peer), '127.0.0.1'));
    await new Promise((r) => sock.once('connect', r));
    const server = net.createServer();
    const err = await listenErr(server, sock);
    assert.equal(err.code, 'EINVAL');
    assert.equal(err.errno, -22);
    assert.equal(err.syscall, 'listen');
    assert.equal(err.address, null);
    assert.equal(err.port, -1);
    assert.equal(err.message, 'listen EINVAL: invalid argument');
    assert.equal(server.listening, false);
    sock.destroy();
    await closeServer(server);
    await closeServer(peer);
  });

  test(`${lib}: listen({ fd }) with a listening socket inherited from the parent serves on it`, { timeout: 20000 }, async () => {
    // The parent (this test) binds a node:net server, hands its fd to a child as fd 3 and closes
    // its own copy; the child's server of `lib` listens with { fd: 3 }.
    const holder = nodeNet.createServer();
    await listenOk(holder, 0, '127.0.0.1');
    const port = portOf(holder);
    const fd = (holder as unknown as { _handle: { fd: number } })._handle.fd;
    const child = startChild(`
      import net from ${JSON.stringify(libSpecifier(lib))};
      const server = net.createServer((s) => { s.on('error', () => {}); s.end('child ' + process.pid); });
      server.on('error', (e) => { console.log('error ' + e.code); process.exit(1); });
      server.listen({ fd: 3 }, () => console.log('listening ' + JSON.stringify(server.address())));
      setTimeout(() => process.exit(3), 15000).unref();
    `, { stdio: ['ignore', 'pipe', 'pipe', fd] });
    try {
      await new Promise<void>((r) => holder.close(() => r()));
      const m = await child.waitFor(/listening (.*)\n/);
      assert.deepEqual(JSON.parse(m[1]), { address: '127.0.0.1', family: 'IPv4', port });
      assert.equal(await fetchReply(port), `child ${child.child.pid}`);
      assert.equal(await fetchReply(port), `child ${child.child.pid}`);
    } finally {
      await child.stop();
    }
  });

  test(`${lib}: listen({ fd }) of a server already in this process's event loop fails with EEXIST`, { timeout: 10000 }, async () => {
    const other = nodeNet.createServer();
    await listenOk(other, 0, '127.0.0.1');
    const fd = (other as unknown as { _handle: { fd: number } })._handle.fd;
    const server = net.createServer();
    const err = await listenErr(server, { fd });
    assert.equal(err.code, 'EEXIST');
    assert.equal(err.errno, -17);
    assert.equal(err.syscall, 'listen');
    assert.equal(err.message, 'listen EEXIST: file already exists');
    assert.equal(server.listening, false);
    assert.equal(await probe(portOf(other)), 'connected', 'the other server still listens');
    await closeServer(server);
    await closeServer(other);
  });

  // ------------------------------------------------------------------ asynchrony, repeat

  test(`${lib}: listen() returns the server in every form`, { timeout: 10000 }, async () => {
    for (const args of [[0, '127.0.0.1'], [sockPath('ret')], [{ port: 0, host: '127.0.0.1' }], [{ path: sockPath('ret2') }]]) {
      const server = own(net.createServer());
      assert.equal(server.listen(...(args as [number])), server);
      await new Promise((r) => server.once('listening', r));
      await closeServer(server);
    }
  });

  test(`${lib}: 'listening' is emitted asynchronously for every form`, { timeout: 10000 }, async () => {
    const forms: unknown[][] = [[0, '127.0.0.1'], [sockPath('async')], [{ port: 0, host: '127.0.0.1' }], [{ path: sockPath('async2') }]];
    for (const args of forms) {
      const server = own(net.createServer());
      let sync = true;
      let emitted = false;
      server.on('listening', () => { emitted = true; assert.equal(sync, false, `'listening' during listen(${JSON.stringify(args)})`); });
      server.listen(...(args as [number]));
      sync = false;
      assert.equal(emitted, false);
      await until(() => emitted, 5000, `'listening' for ${JSON.stringify(args)}`);
      await closeServer(server);
    }
  });

  test(`${lib}: a second listen() while the first one's host lookup is pending supersedes it (one 'listening')`, { timeout: 10000 }, async () => {
    const server = own(net.createServer());
    const events: string[] = [];
    server.on('listening', () => events.push(`listening ${(server.address() as nodeNet.AddressInfo).address}`));
    server.on('error', (e: NodeJS.ErrnoException) => events.push(`error ${e.code}`));
    server.listen(0, 'localhost');
    server.listen(0, '127.0.0.1'); // no throw: no handle yet
    await until(() => events.length > 0, 5000, "'listening'");
    await sleep(200);
    assert.deepEqual(events, ['listening 127.0.0.1']);
    await closeServer(server);
  });

  test(`${lib}: listen again after close() works, on a new port`, { timeout: 10000 }, async () => {
    const server = replier(net, 'again');
    await listenOk(server, 0, '127.0.0.1');
    const first = portOf(server);
    await new Promise((r) => server.close(r));
    assert.equal(server.listening, false);
    const out = await listenOutcome(server, [0, '127.0.0.1']);
    assert.equal(out.listening, true);
    assert.equal(server.listening, true);
    assert.equal(await fetchReply(portOf(server)), 'again');
    assert.equal(await probe(first), first === portOf(server) ? 'connected' : 'ECONNREFUSED');
    await closeServer(server);
  });
}
