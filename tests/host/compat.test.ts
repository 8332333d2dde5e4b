// Smaller parts of node:net's contract that programs and libraries lean on: Socket and Server
// callable without `new`, server._connectionKey, captureRejections on a server. Every test runs
// on node:net and on wasinet with the same assertions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import util from 'node:util';
import { createRequire } from 'node:module';
import { libs, sockPath } from './helpers.js';

const require = createRequire(import.meta.url);

function listening(server: { listen: Function; once: Function }, ...args: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(...args, () => resolve());
  });
}

for (const [name, net] of libs) {
  test(`${name}: Socket() and Server() called without new construct, and instances point back to them`, () => {
    const Sock = net.Socket as unknown as (opts?: object) => InstanceType<typeof net.Socket>;
    const Serv = net.Server as unknown as (opts?: object) => InstanceType<typeof net.Server>;
    const s = Sock({ allowHalfOpen: true });
    assert.ok(s instanceof net.Socket);
    assert.equal(s.constructor, net.Socket);
    assert.equal(s.allowHalfOpen, true);
    s.destroy();
    const v = Serv({ pauseOnConnect: true });
    assert.ok(v instanceof net.Server);
    assert.equal(v.constructor, net.Server);
    assert.equal((net as unknown as { Stream: unknown }).Stream, net.Socket);
    // Stack traces name the receiver after its constructor, as with node:net.
    const frame = (e: { on: Function; emit: Function }) => {
      let line = '';
      e.on('probe', function probe() { line = new Error('probe').stack!.split('\n')[1]; });
      e.emit('probe');
      return line.trim().split(' ')[1];
    };
    assert.equal(frame(new net.Socket()), 'Socket.probe');
    assert.equal(frame(new net.Server()), 'Server.probe');
    class Mine extends net.Socket {}
    const m = new Mine();
    assert.ok(m instanceof Mine && m instanceof net.Socket);
    m.destroy();
  });

  test(`${name}: subclasses made the pre-class way (util.inherits, Socket.call(this)) work as instances`, async () => {
    type Ctor = (this: object, ...args: unknown[]) => void;
    function MyServer(this: { mine?: boolean }, onConnection: (s: InstanceType<typeof net.Socket>) => void) {
      (net.Server as unknown as Ctor).call(this, { allowHalfOpen: false }, onConnection);
      this.mine = true;
    }
    util.inherits(MyServer, net.Server);
    function MySocket(this: { mine?: boolean }, options?: object) {
      (net.Socket as unknown as Ctor).call(this, options);
      this.mine = true;
    }
    util.inherits(MySocket, net.Socket);
    const srv = new (MyServer as unknown as new (f: (s: InstanceType<typeof net.Socket>) => void) => InstanceType<typeof net.Server> & { mine: boolean })(
      (s) => { s.end('hello'); });
    assert.ok(srv instanceof net.Server && srv.mine);
    await listening(srv, 0, '127.0.0.1');
    const c = new (MySocket as unknown as new (o?: object) => InstanceType<typeof net.Socket> & { mine: boolean })({ allowHalfOpen: true });
    assert.ok(c instanceof net.Socket && c instanceof MySocket && c.mine);
    assert.equal(c.allowHalfOpen, true);
    c.connect((srv.address() as { port: number }).port, '127.0.0.1');
    let got = '';
    c.on('data', (d: Buffer) => { got += d; });
    await new Promise((r) => c.on('end', r));
    c.end();
    await new Promise((r) => c.on('close', r));
    assert.equal(got, 'hello');
    await new Promise((r) => srv.close(r));
  });

  test(`${name}: server._connectionKey is family:address:port for TCP and -1:path:-1 for a pipe`, async () => {
    const any = net.createServer();
    any.listen(0);
    assert.equal((any as unknown as { _connectionKey: string })._connectionKey, '6::::0', 'set when listen() returns');
    await new Promise((r) => any.once('listening', r));
    any.close();
    const v4 = net.createServer();
    await listening(v4, 0, '127.0.0.1');
    assert.equal((v4 as unknown as { _connectionKey: string })._connectionKey, '4:127.0.0.1:0');
    v4.close();
    const path = sockPath('ck');
    const pipe = net.createServer();
    pipe.listen(path);
    assert.equal((pipe as unknown as { _connectionKey: string })._connectionKey, `-1:${path}:-1`);
    await new Promise((r) => pipe.once('listening', r));
    pipe.close();
  });

  test(`${name}: with captureRejections, a rejecting async 'connection' listener destroys that socket with the error`, () => {
    // In a child: captureRejections is process-wide.
    const lib = name === 'wasinet' ? require.resolve('../../host/index.js') : 'node:net';
    const script = `
      require('events').captureRejections = true;
      const net = require(${JSON.stringify(lib)});
      const boom = new Error('kaboom');
      const out = [];
      const server = net.createServer(async (sock) => {
        sock.on('error', (e) => out.push('socket error ' + (e === boom)));
        sock.on('close', () => out.push('socket close'));
        server.close();
        throw boom;
      });
      server.on('error', () => out.push('server error'));
      server.listen(0, '127.0.0.1', () => {
        const c = net.connect(server.address().port, '127.0.0.1');
        c.on('error', () => {});
        c.on('close', () => setTimeout(() => console.log(JSON.stringify(out)), 20));
      });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), ['socket error true', 'socket close']);
  });
}

for (const [name, net] of libs) {
  test(`${name}: accessors read on the prototypes answer without throwing, as node:net's do`, () => {
    const sock = net.Socket.prototype as unknown as Record<string, unknown>;
    const serv = net.Server.prototype as unknown as Record<string, unknown>;
    for (const key of ['bytesWritten', 'bytesRead', 'bufferSize', '_bytesDispatched', '_handle', 'localAddress',
      'remoteAddress', 'remotePort', 'localPort', 'remoteFamily', 'localFamily']) {
      assert.equal(sock[key], undefined, key);
    }
    assert.equal(sock.pending, true);
    assert.equal(sock.readyState, 'closed');
    assert.equal(serv.listening, false);
    assert.equal(serv._handle, undefined);
  });

  test(`${name}: bytesRead grows with each 'data' chunk and equals the bytes seen so far`, async () => {
    const size = 4 << 20;
    const server = net.createServer((s) => { s.end(Buffer.alloc(size, 7)); });
    await listening(server, 0, '127.0.0.1');
    const client = net.connect((server.address() as { port: number }).port, '127.0.0.1');
    let seen = 0;
    const mismatches: [number, number][] = [];
    client.on('data', (d: Buffer) => { seen += d.length; if (client.bytesRead !== seen) mismatches.push([seen, client.bytesRead]); });
    await new Promise((r) => client.on('close', r));
    server.close();
    assert.equal(seen, size);
    assert.deepEqual(mismatches, []);
    assert.equal(client.bytesRead, size, 'kept after close');
  });

  test(`${name}: a destroyed socket connected again counts bytesRead and bytesWritten from zero`, async () => {
    const server = net.createServer((s) => { s.on('data', () => {}); s.end('hello'); });
    await listening(server, 0, '127.0.0.1');
    const port = (server.address() as { port: number }).port;
    const client = new net.Socket();
    const counts: [number, number | undefined][] = [];
    for (let i = 0; i < 2; i++) {
      client.connect(port, '127.0.0.1');
      client.resume();
      client.end('abc');
      await new Promise((r) => client.once('close', r));
      counts.push([client.bytesRead, client.bytesWritten]);
    }
    server.close();
    assert.deepEqual(counts, [[5, 3], [5, 3]]);
  });

  test(`${name}: _handle is null on a socket that only had setTimeout(), and stays one object while connecting`, async () => {
    const idle = new net.Socket();
    idle.setTimeout(10);
    assert.equal((idle as unknown as { _handle: unknown })._handle, null);
    const keepAlive = setTimeout(() => {}, 5000); // the idle timer of a socket without a connection is unref'ed
    await new Promise((r) => idle.once('timeout', r));
    clearTimeout(keepAlive);
    assert.equal((idle as unknown as { _handle: unknown })._handle, null);
    idle.destroy();

    const server = net.createServer((s) => s.end());
    await listening(server, 0, '127.0.0.1');
    const client = net.connect({ port: (server.address() as { port: number }).port, host: 'localhost' });
    client.on('error', () => {});
    assert.notEqual((client as unknown as { _handle: unknown })._handle, null);
    assert.equal((client as unknown as { _handle: unknown })._handle, (client as unknown as { _handle: unknown })._handle);
    client.resume();
    await new Promise((r) => client.on('close', r));
    assert.equal((client as unknown as { _handle: unknown })._handle, null);
    server.close();
  });

  test(`${name}: after socket._handle = null a write fails with ERR_SOCKET_CLOSED`, async () => {
    const server = net.createServer((s) => s.resume());
    await listening(server, 0, '127.0.0.1');
    const client = net.connect((server.address() as { port: number }).port, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
    const handle = (client as unknown as { _handle: unknown })._handle as { close?: () => void };
    (client as unknown as { _handle: unknown })._handle = null;
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      client.once('error', resolve);
      client.write('x');
    });
    assert.equal(err.code, 'ERR_SOCKET_CLOSED');
    handle.close?.();
    client.destroy();
    server.close();
  });
}

for (const [name, net] of libs) {
  test(`${name}: a custom lookup giving a non-string address fails with ERR_INVALID_IP_ADDRESS, the value inspected in the message`, async () => {
    const messages: string[] = [];
    for (const address of [{ a: 1 }, 1234, undefined]) {
      const socket = net.connect({
        port: 9, host: 'example.invalid', autoSelectFamily: false,
        lookup: ((_h: string, _o: unknown, cb: (e: null, a: unknown, f: number) => void) => cb(null, address, 4)) as never,
      });
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
      assert.equal(err.code, 'ERR_INVALID_IP_ADDRESS');
      assert.ok(err instanceof TypeError);
      messages.push(err.message);
    }
    assert.deepEqual(messages, ['Invalid IP address: { a: 1 }', 'Invalid IP address: 1234', 'Invalid IP address: undefined']);
  });
}

for (const [name, net] of libs) {
  test(`${name}: connect options noDelay and keepAlive reach the handle's setNoDelay/setKeepAlive, even when patched at connect() time`, async () => {
    const server = net.createServer((s) => s.end());
    await listening(server, 0, '127.0.0.1');
    const port = (server.address() as { port: number }).port;
    const calls: string[] = [];
    for (const [host, noDelay, keepAlive] of [['localhost', true, true], ['127.0.0.1', true, false], ['localhost', false, false]] as const) {
      const c = net.connect({ port, host, family: 4, noDelay, keepAlive, keepAliveInitialDelay: 3000 });
      const handle = (c as unknown as { _handle: Record<string, unknown> })._handle;
      handle.setNoDelay = (on: boolean) => { calls.push(`${host} setNoDelay ${on}`); };
      handle.setKeepAlive = (on: boolean, delay: number) => { calls.push(`${host} setKeepAlive ${on} ${delay}`); };
      c.resume();
      await new Promise((r) => c.on('close', r));
    }
    server.close();
    assert.deepEqual(calls, ['localhost setNoDelay true', 'localhost setKeepAlive true 3', '127.0.0.1 setNoDelay true']);
  });
}
