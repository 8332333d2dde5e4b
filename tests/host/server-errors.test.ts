// Server errors as Node 20 gives them: class, code, message, errno/syscall/address/port fields;
// thrown synchronously (argument validation, listen twice) or emitted with 'error' (bind
// failures), and close() of a server that is not running. Every test runs on node:net and on
// wasinet with the same assertions.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { libs, sockPath, sleep, until, throwsNode } from './helpers.js';
import { listenOk, listenErr, listenOutcome, own, disposeAll, portOf, fetchReply, closeServer, type Server, type SysErr } from './server-util.js';

afterEach(disposeAll);

/** The error a close(cb) callback gets, and the events seen, on a server that is not running. */
async function closeNotRunning(server: Server): Promise<{ err: unknown; events: string[] }> {
  const events: string[] = [];
  server.on('close', () => events.push('close'));
  let sync = true;
  const err = await new Promise((resolve) => {
    server.close((e?: Error) => { events.push(`cb sync=${sync}`); resolve(e); });
    sync = false;
  });
  await sleep(20);
  return { err, events };
}

function assertNotRunning(e: unknown): void {
  assert.ok(e instanceof Error);
  const x = e as NodeJS.ErrnoException;
  assert.equal(x.code, 'ERR_SERVER_NOT_RUNNING');
  assert.equal(x.name, 'Error');
  assert.equal(x.message, 'Server is not running.');
  assert.equal(String(x), 'Error [ERR_SERVER_NOT_RUNNING]: Server is not running.');
}

function assertAddrInUse(e: SysErr, address: string, port: number, shown: string): void {
  assert.ok(e instanceof Error);
  assert.equal(e.code, 'EADDRINUSE');
  assert.equal(e.errno, -98);
  assert.equal(e.syscall, 'listen');
  assert.equal(e.address, address);
  assert.equal(e.port, port);
  assert.equal(e.message, `listen EADDRINUSE: address already in use ${shown}`);
}

const ALREADY = 'Listen method has been called more than once without closing.';

for (const [lib, net] of libs) {
  // ------------------------------------------------------------------ listen twice

  test(`${lib}: listen() again right after listen(0) throws ERR_SERVER_ALREADY_LISTEN`, { timeout: 10000 }, async () => {
    const server = own(net.createServer());
    server.listen(0);
    throwsNode(() => server.listen(0), Error, 'ERR_SERVER_ALREADY_LISTEN', ALREADY);
    throwsNode(() => server.listen(sockPath('twice')), Error, 'ERR_SERVER_ALREADY_LISTEN', ALREADY);
    await until(() => server.listening, 5000, 'listening');
    await closeServer(server);
  });

  test(`${lib}: listen() on a listening server throws ERR_SERVER_ALREADY_LISTEN and keeps it listening`, { timeout: 10000 }, async () => {
    const server = net.createServer((s) => s.end('still'));
    await listenOk(server, 0, '127.0.0.1');
    const port = portOf(server);
    throwsNode(() => server.listen(0, '127.0.0.1'), Error, 'ERR_SERVER_ALREADY_LISTEN', ALREADY);
    throwsNode(() => server.listen({ port: 0 }), Error, 'ERR_SERVER_ALREADY_LISTEN', ALREADY);
    assert.equal(server.listening, true);
    assert.equal(portOf(server), port);
    assert.equal(await fetchReply(port), 'still');
    await closeServer(server);
  });

  test(`${lib}: listen(path) twice throws ERR_SERVER_ALREADY_LISTEN`, { timeout: 10000 }, async () => {
    const server = own(net.createServer());
    const p = sockPath('twice-ipc');
    await listenOk(server, p);
    throwsNode(() => server.listen(sockPath('other')), Error, 'ERR_SERVER_ALREADY_LISTEN', ALREADY);
    assert.equal(server.address(), p);
    await closeServer(server);
  });

  // ------------------------------------------------------------------ EADDRINUSE

  test(`${lib}: EADDRINUSE on a TCP port in use comes through 'error' with Node's fields`, { timeout: 10000 }, async () => {
    const holder = nodeNet.createServer();
    await listenOk(holder, 0, '127.0.0.1');
    const port = portOf(holder);
    const server = net.createServer();
    let sync = true;
    let errorWasSync: boolean | null = null;
    server.once('error', () => { errorWasSync = sync; });
    const p = listenErr(server, port, '127.0.0.1');
    sync = false;
    const err = await p;
    assert.equal(errorWasSync, false, "'error' is emitted asynchronously");
    assertAddrInUse(err, '127.0.0.1', port, `127.0.0.1:${port}`);
    assert.equal(server.listening, false);
    assert.equal(server.address(), null);
    await closeServer(holder);
  });

  test(`${lib}: EADDRINUSE on a port in use with the host omitted names '::'`, { timeout: 10000 }, async () => {
    const holder = nodeNet.createServer();
    await listenOk(holder, 0);
    const port = portOf(holder);
    const server = net.createServer();
    const err = await listenErr(server, port);
    assertAddrInUse(err, '::', port, `:::${port}`);
    await closeServer(holder);
  });

  test(`${lib}: EADDRINUSE between two servers of the library (options form)`, { timeout: 10000 }, async () => {
    const a = net.createServer();
    await listenOk(a, { port: 0, host: '127.0.0.1' });
    const port = portOf(a);
    const b = net.createServer();
    const err = await listenErr(b, { port, host: '127.0.0.1' });
    assertAddrInUse(err, '127.0.0.1', port, `127.0.0.1:${port}`);
    assert.equal(a.listening, true);
    await closeServer(a);
  });

  test(`${lib}: EADDRINUSE on an IPC path in use: address is the path, port -1`, { timeout: 10000 }, async () => {
    const p = sockPath('inuse');
    const holder = nodeNet.createServer();
    await listenOk(holder, p);
    const server = net.createServer();
    const err = await listenErr(server, p);
    assertAddrInUse(err, p, -1, p);
    assert.equal(server.listening, false);
    // A failed IPC listen still answers address() with the path it tried (Node keeps _pipeName).
    assert.equal(server.address(), p);
    await closeServer(holder);
  });

  test(`${lib}: listen again after an EADDRINUSE error works`, { timeout: 10000 }, async () => {
    const holder = nodeNet.createServer();
    await listenOk(holder, 0, '127.0.0.1');
    const server = net.createServer((s) => s.end('second try'));
    const err = await listenErr(server, portOf(holder), '127.0.0.1');
    assert.equal(err.code, 'EADDRINUSE');
    const out = await listenOutcome(server, [0, '127.0.0.1']);
    assert.equal(out.listening, true);
    assert.equal(server.listening, true);
    assert.notEqual(portOf(server), portOf(holder));
    assert.equal(await fetchReply(portOf(server)), 'second try');
    await closeServer(server);
    await closeServer(holder);
  });

  test(`${lib}: listen again after an IPC EADDRINUSE error works (on another path)`, { timeout: 10000 }, async () => {
    const p = sockPath('busy');
    const holder = nodeNet.createServer();
    await listenOk(holder, p);
    const server = net.createServer((s) => s.end('ipc second try'));
    assert.equal((await listenErr(server, p)).code, 'EADDRINUSE');
    const q = sockPath('free');
    assert.equal(await listenOk(server, q), q);
    assert.equal(await fetchReply(q), 'ipc second try');
    await closeServer(server);
    await closeServer(holder);
  });

  test(`${lib}: listen again after close() works (same server object, TCP then IPC)`, { timeout: 10000 }, async () => {
    const server = net.createServer((s) => s.end('reused'));
    await listenOk(server, 0, '127.0.0.1');
    await new Promise((r) => server.close(r));
    const p = sockPath('reuse');
    assert.equal(await listenOk(server, p), p);
    assert.equal(await fetchReply(p), 'reused');
    await closeServer(server);
  });

  // ------------------------------------------------------------------ close() not running

  test(`${lib}: close(cb) on a server never listened calls back with ERR_SERVER_NOT_RUNNING after 'close'`, { timeout: 10000 }, async () => {
    const server = net.createServer();
    const { err, events } = await closeNotRunning(server);
    assertNotRunning(err);
    assert.deepEqual(events, ['close', 'cb sync=false']);
  });

  test(`${lib}: close(cb) a second time calls back with ERR_SERVER_NOT_RUNNING`, { timeout: 10000 }, async () => {
    const server = net.createServer();
    await listenOk(server, 0, '127.0.0.1');
    const events: string[] = [];
    server.on('close', () => events.push('close'));
    const first = new Promise((r) => server.close((e?: Error) => { events.push(`cb1 ${e?.constructor.name}`); r(e); }));
    const second = new Promise((r) => server.close((e?: Error) => { events.push(`cb2 ${(e as NodeJS.ErrnoException)?.code}`); r(e); }));
    assert.equal(await first, undefined);
    assertNotRunning(await second);
    await sleep(20);
    assert.deepEqual(events, ['close', 'cb1 undefined', 'cb2 ERR_SERVER_NOT_RUNNING', 'close']);
  });

  test(`${lib}: close(cb) after a failed listen calls back with ERR_SERVER_NOT_RUNNING`, { timeout: 10000 }, async () => {
    const holder = nodeNet.createServer();
    await listenOk(holder, 0, '127.0.0.1');
    const server = net.createServer();
    await listenErr(server, portOf(holder), '127.0.0.1');
    const { err, events } = await closeNotRunning(server);
    assertNotRunning(err);
    assert.deepEqual(events, ['close', 'cb sync=false']);
    await closeServer(holder);
  });

  test(`${lib}: close(cb) while listen(0, host) is still looking up the host: ERR_SERVER_NOT_RUNNING, never 'listening'`, { timeout: 10000 }, async () => {
    const server = own(net.createServer());
    const events: string[] = [];
    server.on('listening', () => events.push('listening'));
    server.on('close', () => events.push('close'));
    server.listen(0, '127.0.0.1');
    const err = await new Promise((r) => server.close((e?: Error) => { events.push('cb'); r(e); }));
    assertNotRunning(err);
    await sleep(100);
    assert.deepEqual(events, ['close', 'cb']);
    assert.equal(server.listening, false);
  });

  // ------------------------------------------------------------------ argument validation

  test(`${lib}: bad ports throw ERR_SOCKET_BAD_PORT (RangeError) with Node's message`, { timeout: 10000 }, async () => {
    const cases: [unknown, string][] = [
      [-1, 'type number (-1)'], [65536, 'type number (65536)'], [1.5, 'type number (1.5)'],
      [Infinity, 'type number (Infinity)'], [NaN, 'type number (NaN)'],
      ['abc', "type string ('abc')"], ['', "type string ('')"], [' ', "type string (' ')"], ['-1', "type string ('-1')"],
    ];
    for (const [port, shown] of cases) {
      const server = net.createServer();
      throwsNode(() => server.listen({ port, host: '127.0.0.1' }), RangeError, 'ERR_SOCKET_BAD_PORT',
        `options.port should be >= 0 and < 65536. Received ${shown}.`);
      assert.equal(server.listening, false);
    }
    // Positional numbers too (a string there is a pipe name).
    for (const [port, shown] of [[-1, '(-1)'], [65536, '(65536)'], [1.5, '(1.5)']] as const) {
      throwsNode(() => net.createServer().listen(port, '127.0.0.1'), RangeError, 'ERR_SOCKET_BAD_PORT',
        `options.port should be >= 0 and < 65536. Received type number ${shown}.`);
    }
  });

  test(`${lib}: listen({}) and listen({ host }) throw ERR_INVALID_ARG_VALUE: must have "port" or "path"`, { timeout: 10000 }, async () => {
    throwsNode(() => net.createServer().listen({}), TypeError, 'ERR_INVALID_ARG_VALUE',
      'The argument \'options\' must have the property "port" or "path". Received {}');
    throwsNode(() => net.createServer().listen({ host: 'localhost' }), TypeError, 'ERR_INVALID_ARG_VALUE',
      'The argument \'options\' must have the property "port" or "path". Received { host: \'localhost\' }');
    throwsNode(() => net.createServer().listen({ backlog: 5, exclusive: true }), TypeError, 'ERR_INVALID_ARG_VALUE',
      'The argument \'options\' must have the property "port" or "path". Received { backlog: 5, exclusive: true }');
  });

  test(`${lib}: listen(true) and listen({ port: true }) throw ERR_INVALID_ARG_VALUE "is invalid"`, { timeout: 10000 }, async () => {
    throwsNode(() => net.createServer().listen(true as never), TypeError, 'ERR_INVALID_ARG_VALUE',
      "The argument 'options' is invalid. Received { port: true }");
    throwsNode(() => net.createServer().listen({ port: true } as never), TypeError, 'ERR_INVALID_ARG_VALUE',
      "The argument 'options' is invalid. Received { port: true }");
    throwsNode(() => net.createServer().listen({ path: 42 } as never), TypeError, 'ERR_INVALID_ARG_VALUE',
      "The argument 'options' is invalid. Received { path: 42 }");
  });

  test(`${lib}: createServer with options of a wrong type throws ERR_INVALID_ARG_TYPE`, { timeout: 10000 }, async () => {
    throwsNode(() => net.createServer(1 as never), TypeError, 'ERR_INVALID_ARG_TYPE',
      'The "options" argument must be of type object. Received type number (1)');
    throwsNode(() => net.createServer('x' as never), TypeError, 'ERR_INVALID_ARG_TYPE',
      'The "options" argument must be of type object. Received type string (\'x\')');
    throwsNode(() => net.createServer(true as never), TypeError, 'ERR_INVALID_ARG_TYPE',
      'The "options" argument must be of type object. Received type boolean (true)');
    throwsNode(() => net.createServer({ highWaterMark: 'x' } as never), TypeError, 'ERR_INVALID_ARG_TYPE',
      'The "options.highWaterMark" property must be of type number. Received type string (\'x\')');
    throwsNode(() => net.createServer({ keepAliveInitialDelay: 'x' } as never), TypeError, 'ERR_INVALID_ARG_TYPE',
      'The "options.keepAliveInitialDelay" property must be of type number. Received type string (\'x\')');
  });

  test(`${lib}: listen({ signal }) with a non-AbortSignal throws ERR_INVALID_ARG_TYPE`, { timeout: 10000 }, async () => {
    throwsNode(() => net.createServer().listen({ port: 0, signal: 1 } as never), TypeError, 'ERR_INVALID_ARG_TYPE',
      'The "options.signal" property must be an instance of AbortSignal. Received type number (1)');
  });

  test(`${lib}: listen({ signal }): aborting closes the server; a signal aborted already means no 'listening'`, { timeout: 10000 }, async () => {
    const ac = new AbortController();
    const a = own(net.createServer());
    const ev: string[] = [];
    a.on('close', () => ev.push('close'));
    a.on('listening', () => { ev.push('listening'); ac.abort(); ev.push(`after abort listening=${a.listening}`); });
    a.listen({ port: 0, host: '127.0.0.1', signal: ac.signal });
    await until(() => ev.includes('close'), 5000, "'close' after abort");
    assert.deepEqual(ev, ['listening', 'after abort listening=false', 'close']);
    const b = own(net.createServer());
    const evb: string[] = [];
    b.on('close', () => evb.push('close'));
    b.on('listening', () => evb.push('listening'));
    b.listen({ port: 0, host: '127.0.0.1', signal: AbortSignal.abort() });
    await sleep(100);
    assert.deepEqual(evb, ['close']);
    assert.equal(b.listening, false);
  });
}
