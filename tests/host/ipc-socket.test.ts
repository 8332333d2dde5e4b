// Socket behaviours over IPC (Unix domain sockets): data integrity, half-open with allowHalfOpen
// both ways, backpressure, idle timeouts, errors, destroy(err). The library under test is the
// server side (node:net client), the client side (node:net server), or both. Every test runs on
// node:net and on wasinet with the same assertions.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { createHash } from 'node:crypto';
import { libs, sockPath, sleep, until, eventually, pattern, patternHash, sendPattern, hashUntilEnd, eventLog, type Net } from './helpers.js';
import { listenOk, own, disposeAll, closeServer, track, type Server, type Socket } from './server-util.js';

afterEach(disposeAll);

const MiB = 1024 * 1024;

type Roles = 'lib server' | 'lib client' | 'both lib';
const ROLES: Roles[] = ['lib server', 'lib client', 'both lib'];

/** Server and client libraries for a role. */
function pick(net: Net, role: Roles): { S: Net; C: Net } {
  if (role === 'lib server') return { S: net, C: nodeNet };
  if (role === 'lib client') return { S: nodeNet, C: net };
  return { S: net, C: net };
}

/** An IPC server of `S` and a connected client of `C`; resolves once both ends exist. */
async function pair(S: Net, C: Net, serverOpts: nodeNet.ServerOpts = {}, clientOpts: object = {}):
  Promise<{ server: Server; srv: Socket; cli: Socket; path: string }> {
  const path = sockPath('pair');
  const server = S.createServer(serverOpts);
  const accepted = track(server);
  await listenOk(server, path);
  const cli = own(C.connect({ path, ...clientOpts }));
  await eventually(cli, 'connect');
  await until(() => accepted.length === 1, 5000, 'the accepted socket');
  return { server, srv: accepted[0], cli, path };
}

for (const [lib, net] of libs) {
  for (const role of ROLES) {
    const tag = `${lib} (${role})`;

    test(`${tag}: IPC carries 8 MiB each way byte-exact; bytesRead/bytesWritten match`, { timeout: 30000 }, async () => {
      const { S, C } = pick(net, role);
      // Half-open on both ends: each sends its whole stream even after the other finished.
      const { server, srv, cli } = await pair(S, C, { allowHalfOpen: true }, { allowHalfOpen: true });
      const size = 8 * MiB;
      const srvGot = hashUntilEnd(srv);
      const cliGot = hashUntilEnd(cli);
      const srvClosed = eventually(srv, 'close', 20000);
      const cliClosed = eventually(cli, 'close', 20000);
      await Promise.all([sendPattern(cli, 11, size), sendPattern(srv, 12, size)]);
      const [a, b] = await Promise.all([srvGot, cliGot]);
      assert.deepEqual(a, { hash: patternHash(11, size), bytes: size });
      assert.deepEqual(b, { hash: patternHash(12, size), bytes: size });
      await Promise.all([srvClosed, cliClosed]);
      assert.equal(srv.bytesRead, size);
      assert.equal(srv.bytesWritten, size);
      assert.equal(cli.bytesRead, size);
      assert.equal(cli.bytesWritten, size);
      await closeServer(server);
    });

    test(`${tag}: IPC half-open, allowHalfOpen on both: the server answers after the client's FIN`, { timeout: 10000 }, async () => {
      const { S, C } = pick(net, role);
      const { server, srv, cli } = await pair(S, C, { allowHalfOpen: true }, { allowHalfOpen: true });
      const srvLog = eventLog(srv, ['end', 'finish', 'close']);
      const cliLog = eventLog(cli, ['end', 'finish', 'close']);
      const got: Buffer[] = [];
      srv.on('data', (d: Buffer) => got.push(d));
      let atEnd = '';
      srv.on('end', () => {
        atEnd = `writable=${srv.writable}`;
        setTimeout(() => { srv.write('late '); srv.end(`answer to ${Buffer.concat(got)}`); }, 100);
      });
      let reply = '';
      cli.setEncoding('utf8');
      cli.on('data', (d: string) => { reply += d; });
      cli.end('question');
      await Promise.all([eventually(cli, 'close'), eventually(srv, 'close')]);
      assert.equal(atEnd, 'writable=true');
      assert.equal(reply, 'late answer to question');
      assert.deepEqual(cliLog, ['finish', 'end', 'close false']);
      assert.deepEqual(srvLog, ['end', 'finish', 'close false']);
      await closeServer(server);
    });

    test(`${tag}: IPC half-open the other way: the client keeps writing after the server's FIN`, { timeout: 10000 }, async () => {
      const { S, C } = pick(net, role);
      const { server, srv, cli } = await pair(S, C, { allowHalfOpen: true }, { allowHalfOpen: true });
      let got = '';
      srv.setEncoding('utf8');
      srv.on('data', (d: string) => { got += d; });
      srv.end('server done');
      let reply = '';
      cli.setEncoding('utf8');
      cli.on('data', (d: string) => { reply += d; });
      await eventually(cli, 'end');
      assert.equal(cli.writable, true);
      cli.write('more ');
      cli.end('from client');
      await Promise.all([eventually(cli, 'close'), eventually(srv, 'close')]);
      assert.equal(reply, 'server done');
      assert.equal(got, 'more from client');
      await closeServer(server);
    });

    test(`${tag}: IPC allowHalfOpen false: the peer's FIN ends our side too`, { timeout: 10000 }, async () => {
      const { S, C } = pick(net, role);
      const { server, srv, cli } = await pair(S, C, { allowHalfOpen: false }, { allowHalfOpen: false });
      const srvLog = eventLog(srv, ['end', 'finish', 'close']);
      const cliLog = eventLog(cli, ['end', 'finish', 'close']);
      srv.resume();
      cli.resume();
      cli.end();
      await Promise.all([eventually(cli, 'close'), eventually(srv, 'close')]);
      assert.deepEqual(srvLog, ['end', 'finish', 'close false']);
      assert.deepEqual(cliLog, ['finish', 'end', 'close false']);
      await closeServer(server);
    });

    test(`${tag}: IPC backpressure: write() returns false against a paused reader; every byte arrives after resume()`, { timeout: 30000 }, async () => {
      const { S, C } = pick(net, role);
      const { server, srv, cli } = await pair(S, C);
      srv.pause();
      const chunk = 64 * 1024;
      const h = createHash('sha256');
      let sent = 0;
      let falseAt = -1;
      let drained = false;
      cli.on('drain', () => { drained = true; });
      // Write until write() says stop (bounded: 64 MiB).
      for (const b of pattern(21, 64 * MiB, chunk)) {
        h.update(b);
        sent += b.length;
        if (!cli.write(b)) { falseAt = sent; break; }
      }
      assert.ok(falseAt > 0, 'write() returned false before 64 MiB');
      assert.ok(cli.writableLength > 0, 'bytes are queued in the writer');
      assert.equal(cli.writableNeedDrain, true);
      await sleep(100);
      assert.equal(drained, false, "no 'drain' while the reader is paused");
      const got = createHash('sha256');
      let bytes = 0;
      srv.on('data', (d: Buffer) => { got.update(d); bytes += d.length; });
      srv.resume();
      await until(() => drained, 10000, "'drain' after resume()");
      cli.end();
      await eventually(srv, 'end', 10000);
      assert.equal(bytes, sent);
      assert.equal(got.digest('hex'), h.digest('hex'));
      await closeServer(server, [srv, cli]);
    });

    test(`${tag}: IPC idle timeout: 'timeout' fires once on the idle socket, does not close it, and re-arms only after activity`, { timeout: 10000 }, async () => {
      const { S, C } = pick(net, role);
      const { server, srv, cli } = await pair(S, C);
      const log: string[] = [];
      const target = role === 'lib client' ? cli : srv; // the library's socket
      const other = target === cli ? srv : cli;
      other.resume();
      target.resume();
      target.on('timeout', () => log.push(`timeout destroyed=${target.destroyed}`));
      target.setTimeout(150);
      assert.equal(target.timeout, 150);
      await until(() => log.length === 1, 5000, 'the first timeout');
      await sleep(400);
      assert.equal(log.length, 1, 'no second timeout without activity');
      other.write('activity'); // re-arms after data
      await until(() => log.length === 2, 5000, 'a second timeout after activity');
      assert.deepEqual(log, ['timeout destroyed=false', 'timeout destroyed=false']);
      target.setTimeout(0);
      await sleep(300);
      assert.equal(log.length, 2, 'setTimeout(0) disarms');
      await closeServer(server, [cli, srv]);
    });

    test(`${tag}: IPC destroy(err): 'error' then 'close' true on that side; the peer sees 'end' and 'close' false`, { timeout: 10000 }, async () => {
      const { S, C } = pick(net, role);
      const { server, srv, cli } = await pair(S, C);
      const target = role === 'lib client' ? cli : srv;
      const other = target === cli ? srv : cli;
      const log = eventLog(target, ['end', 'finish', 'error', 'close']);
      const otherLog = eventLog(other, ['end', 'error', 'close']);
      other.resume();
      const boom = new Error('boom');
      target.destroy(boom);
      assert.equal(target.destroyed, true);
      await Promise.all([eventually(target, 'close'), eventually(other, 'close')]);
      assert.deepEqual(log, ['error boom', 'close true']);
      assert.deepEqual(otherLog, ['end', 'close false']);
      assert.equal(target.errored, boom);
      await closeServer(server);
    });

    test(`${tag}: IPC destroy() without error: 'close' false, no 'error'`, { timeout: 10000 }, async () => {
      const { S, C } = pick(net, role);
      const { server, srv, cli } = await pair(S, C);
      const target = role === 'lib client' ? cli : srv;
      const other = target === cli ? srv : cli;
      const log = eventLog(target, ['end', 'finish', 'error', 'close']);
      other.resume();
      target.destroy();
      await Promise.all([eventually(target, 'close'), eventually(other, 'close')]);
      assert.deepEqual(log, ['close false']);
      await closeServer(server);
    });
  }

  test(`${lib}: IPC client: connect({ path, timeout }) arms the idle timeout`, { timeout: 10000 }, async () => {
    const p = sockPath('ctimeout');
    const server = nodeNet.createServer((s) => { s.resume(); s.on('error', () => {}); });
    await listenOk(server, p);
    const c = own(net.connect({ path: p, timeout: 120 }));
    const log: string[] = [];
    c.on('connect', () => log.push('connect'));
    c.on('timeout', () => { log.push('timeout'); c.destroy(); });
    await eventually(c, 'close');
    assert.deepEqual(log, ['connect', 'timeout']);
    await closeServer(server);
  });

  test(`${lib}: IPC client: writing to a peer that went away fails with EPIPE or ECONNRESET, then 'close' true`, { timeout: 10000 }, async () => {
    const p = sockPath('epipe');
    const server = nodeNet.createServer((s) => { s.on('error', () => {}); s.destroy(); });
    await listenOk(server, p);
    const c = own(net.connect({ path: p, allowHalfOpen: true }));
    c.on('data', () => {});
    await eventually(c, 'end');
    const errP = new Promise<NodeJS.ErrnoException>((r) => c.once('error', r));
    const closeP = eventually(c, 'close');
    for (let i = 0; i < 50 && !c.destroyed; i++) {
      c.write(Buffer.alloc(64 * 1024));
      await sleep(10);
    }
    const err = await errP;
    assert.ok(['EPIPE', 'ECONNRESET'].includes(err.code!), `code ${err.code}`);
    assert.equal(err.syscall, 'write');
    assert.deepEqual(await closeP, [true]);
    await closeServer(server);
  });
}
