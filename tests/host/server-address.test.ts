// server.address() and server.listening through a server's life: before listen(), right after
// listen() (synchronously), on 'listening', after an error, after close(). Every test runs on
// node:net and on wasinet with the same assertions.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { libs, sockPath, until } from './helpers.js';
import { listenOk, listenErr, own, disposeAll, portOf, connectOk, closeServer, type Socket } from './server-util.js';

afterEach(disposeAll);

const hasIPv6 = await new Promise<boolean>((resolve) => {
  const s = nodeNet.createServer();
  s.once('error', () => resolve(false));
  s.listen(0, '::1', () => s.close(() => resolve(true)));
});

for (const [lib, net] of libs) {
  test(`${lib}: before listen(): address() is null and listening is false`, { timeout: 10000 }, async () => {
    const server = net.createServer();
    assert.equal(server.address(), null);
    assert.equal(server.listening, false);
  });

  test(`${lib}: address() on 127.0.0.1 is { address, family: 'IPv4', port }, a fresh object each call`, { timeout: 10000 }, async () => {
    const server = net.createServer();
    await listenOk(server, 0, '127.0.0.1');
    const a = server.address() as nodeNet.AddressInfo;
    assert.deepEqual(Object.keys(a), ['address', 'family', 'port']);
    assert.equal(a.address, '127.0.0.1');
    assert.equal(a.family, 'IPv4');
    assert.equal(typeof a.port, 'number');
    const b = server.address();
    assert.notEqual(a, b);
    assert.deepEqual(a, b);
    assert.equal(server.listening, true);
    await closeServer(server);
  });

  test(`${lib}: address() on ::1 is { address: '::1', family: 'IPv6', port }`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const server = net.createServer();
    await listenOk(server, 0, '::1');
    const a = server.address() as nodeNet.AddressInfo;
    assert.deepEqual(Object.keys(a), ['address', 'family', 'port']);
    assert.equal(a.address, '::1');
    assert.equal(a.family, 'IPv6');
    assert.ok(a.port > 0);
    await closeServer(server);
  });

  test(`${lib}: address() of an IPC server is the path string`, { timeout: 10000 }, async () => {
    const p = sockPath('addr');
    const server = net.createServer();
    await listenOk(server, p);
    assert.equal(server.address(), p);
    assert.equal(typeof server.address(), 'string');
    assert.equal(server.listening, true);
    await closeServer(server);
  });

  test(`${lib}: listen(0) with no host binds synchronously: listening and address() are set before 'listening'`, { timeout: 10000, skip: !hasIPv6 }, async () => {
    const server = own(net.createServer());
    let atEvent: unknown = null;
    server.on('listening', () => { atEvent = server.address(); });
    server.listen(0);
    assert.equal(server.listening, true);
    const a = server.address() as nodeNet.AddressInfo | null;
    assert.ok(a !== null, 'address() right after listen(0)');
    assert.equal(a.address, '::');
    await until(() => atEvent !== null, 5000, "'listening'");
    assert.deepEqual(atEvent, a);
    await closeServer(server);
  });

  test(`${lib}: listen(path) binds synchronously: listening and address() are set before 'listening'`, { timeout: 10000 }, async () => {
    const p = sockPath('sync');
    const server = own(net.createServer());
    let emitted = false;
    server.on('listening', () => { emitted = true; });
    server.listen(p);
    assert.equal(server.listening, true);
    assert.equal(server.address(), p);
    assert.equal(emitted, false);
    await until(() => emitted, 5000, "'listening'");
    await closeServer(server);
  });

  test(`${lib}: listen(0, host) resolves the host first: not listening and address() null until then`, { timeout: 10000 }, async () => {
    const server = own(net.createServer());
    let atEvent = '';
    server.on('listening', () => { atEvent = `${server.listening} ${JSON.stringify(server.address())}`; });
    server.listen(0, '127.0.0.1');
    assert.equal(server.listening, false);
    assert.equal(server.address(), null);
    await until(() => atEvent !== '', 5000, "'listening'");
    assert.match(atEvent, /^true \{"address":"127\.0\.0\.1","family":"IPv4","port":\d+\}$/);
    await closeServer(server);
  });

  test(`${lib}: after a failed TCP listen: address() null, listening false`, { timeout: 10000 }, async () => {
    const holder = nodeNet.createServer();
    await listenOk(holder, 0, '127.0.0.1');
    const server = net.createServer();
    await listenErr(server, portOf(holder), '127.0.0.1');
    assert.equal(server.address(), null);
    assert.equal(server.listening, false);
    await closeServer(holder);
  });

  test(`${lib}: TCP: address() is null and listening false from close() on (synchronously)`, { timeout: 10000 }, async () => {
    const server = net.createServer();
    await listenOk(server, 0, '127.0.0.1');
    const closedP = new Promise((r) => server.close(r));
    assert.equal(server.address(), null);
    assert.equal(server.listening, false);
    await closedP;
    assert.equal(server.address(), null);
    assert.equal(server.listening, false);
  });

  test(`${lib}: TCP: address() is null while close() waits for open connections`, { timeout: 10000 }, async () => {
    const accepted: Socket[] = [];
    const server = net.createServer((s: Socket) => { accepted.push(s); });
    await listenOk(server, 0, '127.0.0.1');
    const c = await connectOk(portOf(server), '127.0.0.1');
    await until(() => accepted.length === 1, 5000, 'the connection');
    let closed = false;
    server.close(() => { closed = true; });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closed, false);
    assert.equal(server.address(), null);
    assert.equal(server.listening, false);
    c.destroy();
    await until(() => closed, 5000, "the server's 'close'");
  });

  test(`${lib}: IPC: address() still answers the path after close(); listening is false`, { timeout: 10000 }, async () => {
    const p = sockPath('after');
    const server = net.createServer();
    await listenOk(server, p);
    await new Promise((r) => server.close(r));
    assert.equal(server.listening, false);
    assert.equal(server.address(), p);
  });
}
