// IPC servers (Unix domain sockets): the socket file's life, stale files, paths longer than
// sun_path, readableAll/writableAll modes, abstract names, Windows pipe names (odd file names on
// POSIX; real named pipes on Windows). Every test runs on node:net and on wasinet with the same
// assertions; clients are node:net.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { existsSync, lstatSync, statSync, readdirSync, unlinkSync, mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { libs, sockPath, until } from './helpers.js';
import {
  listenOk, listenErr, listenOutcome, disposeAll, connectOk, probe, fetchReply, closeServer, track, startChild,
  libSpecifier, type Socket, type SysErr,
} from './server-util.js';

afterEach(disposeAll);

const posix = process.platform !== 'win32';
const linux = process.platform === 'linux';

/** A fresh empty directory for tests that list what is in it. */
function freshDir(): string {
  return mkdtempSync(join(dirname(sockPath('probe')), 'ipc-'));
}

/** A path of exactly `len` bytes in `dir`. */
function pathOfLength(dir: string, len: number): string {
  const base = join(dir, 'L');
  assert.ok(base.length < len, `temp dir too long for a ${len}-byte path`);
  return base + 'x'.repeat(len - base.length);
}

for (const [lib, net] of libs) {
  // ------------------------------------------------------------------ the socket file

  test(`${lib}: the socket file exists while listening and close() unlinks it`, { timeout: 10000, skip: !posix }, async () => {
    const p = sockPath('life');
    const server = net.createServer((s: Socket) => s.end('ipc'));
    assert.equal(existsSync(p), false);
    await listenOk(server, p);
    assert.ok(lstatSync(p).isSocket(), 'a socket file');
    assert.equal(await fetchReply(p), 'ipc');
    await new Promise((r) => server.close(r));
    assert.equal(existsSync(p), false, 'unlinked by close()');
  });

  test(`${lib}: close() unlinks the file at once even with connections open; they keep working`, { timeout: 10000, skip: !posix }, async () => {
    const p = sockPath('open');
    const server = net.createServer((s: Socket) => { s.on('data', (d) => s.write(`echo:${d}`)); });
    const accepted = track(server);
    await listenOk(server, p);
    const c = await connectOk(p);
    await until(() => accepted.length === 1, 5000, 'the connection');
    let closed = false;
    server.close(() => { closed = true; });
    await until(() => !existsSync(p), 5000, 'the file to be unlinked');
    assert.equal(closed, false);
    assert.equal(await probe(p), 'ENOENT', 'new connections find no file');
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => { got += d; });
    c.write('still here');
    await until(() => got === 'echo:still here', 5000, 'the echo');
    c.destroy();
    await until(() => closed, 5000, "the server's 'close'");
  });

  test(`${lib}: the accepted IPC socket has no addresses or ports; address() is {}`, { timeout: 10000 }, async () => {
    const p = sockPath('props');
    let props = '';
    const server = net.createServer((s: Socket) => {
      props = JSON.stringify([s.remoteAddress, s.remotePort, s.remoteFamily, s.localAddress, s.localPort, s.address()]);
      s.end();
    });
    await listenOk(server, p);
    assert.equal(await fetchReply(p), '');
    await until(() => props !== '', 5000, 'the connection');
    assert.equal(props, JSON.stringify([undefined, undefined, undefined, undefined, undefined, {}]));
    await closeServer(server);
  });

  test(`${lib}: a stale socket file (its listener SIGKILLed) refuses connections with ECONNREFUSED and listen() gives EADDRINUSE`, { timeout: 20000, skip: !posix }, async () => {
    const p = sockPath('stale');
    const child = startChild(`
      import net from ${JSON.stringify(libSpecifier(lib))};
      const server = net.createServer();
      server.listen(${JSON.stringify(p)}, () => console.log('listening'));
      setTimeout(() => process.exit(3), 15000).unref();
    `);
    try {
      await child.waitFor(/listening\n/);
      child.child.kill('SIGKILL');
      await child.exited;
    } finally {
      await child.stop();
    }
    assert.ok(lstatSync(p).isSocket(), 'the socket file is left behind');
    // Connecting with the library itself: Node's error fields.
    const c = net.connect(p);
    const err = await new Promise<SysErr>((resolve) => c.once('error', resolve));
    await new Promise((r) => c.once('close', r));
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.errno, -111);
    assert.equal(err.syscall, 'connect');
    assert.equal(err.address, p);
    assert.equal(err.port, undefined);
    assert.equal(err.message, `connect ECONNREFUSED ${p}`);
    const server = net.createServer((s: Socket) => s.end('fresh'));
    const lerr = await listenErr(server, p);
    assert.equal(lerr.code, 'EADDRINUSE');
    assert.equal(lerr.syscall, 'listen');
    assert.equal(lerr.address, p);
    assert.equal(lerr.port, -1);
    assert.equal(lerr.message, `listen EADDRINUSE: address already in use ${p}`);
    assert.ok(existsSync(p), 'the failed listen leaves the stale file alone');
    // Once the stale file is removed the same path works again.
    unlinkSync(p);
    assert.equal(await listenOk(server, p), p);
    assert.equal(await fetchReply(p), 'fresh');
    await closeServer(server);
  });

  test(`${lib}: connecting to a missing path fails with ENOENT (Node's fields)`, { timeout: 10000 }, async () => {
    const p = sockPath('missing');
    const c = net.connect(p);
    const events: string[] = [];
    c.on('connect', () => events.push('connect'));
    const err = await new Promise<SysErr>((resolve) => c.once('error', resolve));
    const hadError = await new Promise((r) => c.once('close', r));
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.errno, -2);
    assert.equal(err.syscall, 'connect');
    assert.equal(err.address, p);
    assert.equal(err.message, `connect ENOENT ${p}`);
    assert.equal(hadError, true);
    assert.deepEqual(events, []);
  });

  test(`${lib}: listen() on a path that is a regular file gives EADDRINUSE and leaves the file`, { timeout: 10000, skip: !posix }, async () => {
    const { writeFileSync, readFileSync } = await import('node:fs');
    const p = sockPath('regular');
    writeFileSync(p, 'data');
    const err = await listenErr(net.createServer(), p);
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.address, p);
    assert.equal(readFileSync(p, 'utf8'), 'data');
  });

  test(`${lib}: listen() in a directory that does not exist gives EACCES or ENOENT as Node does`, { timeout: 10000, skip: !posix }, async () => {
    const p = join(sockPath('nodir'), 'sub', 's.sock');
    const expected = await listenErr(nodeNet.createServer(), p);
    const err = await listenErr(net.createServer(), p);
    assert.equal(err.code, expected.code);
    assert.equal(err.errno, expected.errno);
    assert.equal(err.syscall, expected.syscall);
    assert.equal(err.address, p);
    assert.equal(err.port, -1);
    assert.equal(err.message, expected.message);
  });

  // ------------------------------------------------------------------ sun_path limits (Linux: 108 bytes)

  test(`${lib}: a path of exactly 108 bytes (sun_path, no NUL) works and is unlinked on close`, { timeout: 10000, skip: !linux }, async () => {
    const dir = freshDir();
    const p = pathOfLength(dir, 108);
    const server = net.createServer((s: Socket) => s.end('108'));
    assert.equal(await listenOk(server, p), p);
    assert.deepEqual(readdirSync(dir).map((f) => join(dir, f)), [p]);
    assert.equal(await fetchReply(p), '108');
    await closeServer(server);
    assert.deepEqual(readdirSync(dir), []);
  });

  test(`${lib}: a path longer than sun_path is silently truncated to 108 bytes, and the truncated file is left behind`, { timeout: 10000, skip: !linux }, async () => {
    const dir = freshDir();
    const p = pathOfLength(dir, 150);
    const server = net.createServer((s: Socket) => s.end('long'));
    const out = await listenOutcome(server, [p]);
    assert.equal(out.listening, true, 'Node 20 does not report an error');
    assert.equal(server.address(), p, 'address() is the path as given');
    assert.deepEqual(readdirSync(dir).map((f) => join(dir, f)), [p.slice(0, 108)]);
    // A client with the same long path is truncated the same way.
    assert.equal(await fetchReply(p), 'long');
    assert.equal(await fetchReply(p.slice(0, 108)), 'long');
    await closeServer(server);
    // close() unlinks the long name, which does not exist: the truncated file stays.
    assert.deepEqual(readdirSync(dir).map((f) => join(dir, f)), [p.slice(0, 108)]);
    assert.ok(lstatSync(p.slice(0, 108)).isSocket());
    // ... and, stale now, blocks the next listen on the same long path.
    const again = net.createServer();
    assert.equal((await listenErr(again, p)).code, 'EADDRINUSE');
  });

  // ------------------------------------------------------------------ readableAll / writableAll

  const modeCases: [string, object, number][] = [
    ['neither', {}, 0o700],
    ['readableAll', { readableAll: true }, 0o744],
    ['writableAll', { writableAll: true }, 0o722],
    ['both', { readableAll: true, writableAll: true }, 0o766],
  ];
  for (const [name, opts, mode] of modeCases) {
    test(`${lib}: listen({ path, ${name} }) under umask 077 makes the socket file mode ${mode.toString(8)}`, { timeout: 10000, skip: !posix }, async () => {
      const p = sockPath(`mode-${name}`);
      const server = net.createServer();
      const old = process.umask(0o077);
      try {
        await listenOk(server, { path: p, ...opts });
      } finally {
        process.umask(old);
      }
      assert.equal((statSync(p).mode & 0o777).toString(8), mode.toString(8));
      await closeServer(server);
    });
  }

  test(`${lib}: readableAll/writableAll under the usual umask 022: writableAll gives 777`, { timeout: 10000, skip: !posix }, async () => {
    const old = process.umask(0o022);
    const got: string[] = [];
    try {
      for (const opts of [{}, { readableAll: true }, { writableAll: true }]) {
        const p = sockPath('mode022');
        const server = net.createServer();
        await listenOk(server, { path: p, ...opts });
        got.push((statSync(p).mode & 0o777).toString(8));
        await closeServer(server);
      }
    } finally {
      process.umask(old);
    }
    assert.deepEqual(got, ['755', '755', '777']);
  });

  // ------------------------------------------------------------------ abstract namespace (Linux)

  test(`${lib}: an abstract socket name ('\\0…') listens with no file; address() is the name`, { timeout: 10000, skip: !linux }, async () => {
    const name = `\0wasinet-abstract-${process.pid}-${lib}`;
    const server = net.createServer((s: Socket) => s.end('abstract'));
    const out = await listenOutcome(server, [name]).catch((e: Error) => ({ listening: false as const, error: e as SysErr }));
    assert.equal(out.listening, true, out.listening ? '' : `listen failed: ${out.error.message}`);
    assert.equal(server.address(), name);
    assert.equal(await fetchReply(name), 'abstract');
    await closeServer(server);
    assert.equal(await probe(name), 'ECONNREFUSED');
  });

  test(`${lib}: readableAll or writableAll with an abstract name throws ERR_INVALID_ARG_VALUE`, { timeout: 10000 }, async () => {
    for (const opt of ['readableAll', 'writableAll']) {
      let e: NodeJS.ErrnoException | null = null;
      try { net.createServer().listen({ path: '\0abs', [opt]: true }); } catch (x) { e = x as NodeJS.ErrnoException; }
      assert.ok(e instanceof TypeError);
      assert.equal((e as NodeJS.ErrnoException).code, 'ERR_INVALID_ARG_VALUE');
      assert.equal(e.message, "The argument 'options' can not set readableAll or writableAllt to true when path is abstract unix socket. " +
        `Received { path: '\\x00abs', ${opt}: true }`);
    }
  });

  // ------------------------------------------------------------------ Windows pipe names

  for (const name of ['\\\\?\\pipe\\wasinet-q', '\\\\.\\pipe\\wasinet-d']) {
    test(`${lib}: on POSIX, the Windows pipe name ${JSON.stringify(name)} is a relative file name, created and unlinked as is`, { timeout: 10000, skip: !posix }, async () => {
      const dir = freshDir();
      const old = process.cwd();
      process.chdir(dir);
      try {
        const server = net.createServer((s: Socket) => s.end('odd name'));
        assert.equal(await listenOk(server, name), name);
        assert.deepEqual(readdirSync(dir), [name]);
        assert.ok(lstatSync(join(dir, name)).isSocket());
        assert.equal(await fetchReply(name), 'odd name');
        assert.equal(await fetchReply(join(dir, name)), 'odd name');
        await closeServer(server);
        assert.deepEqual(readdirSync(dir), []);
      } finally {
        process.chdir(old);
      }
    });

    test(`${lib}: on Windows, a named pipe ${JSON.stringify(name)} round trip`, { timeout: 10000, skip: process.platform !== 'win32' }, async () => {
      const pipe = `${name}-${process.pid}`;
      const server = net.createServer((s: Socket) => { s.setEncoding('utf8'); s.on('data', (d: string) => s.end(`pipe:${d}`)); });
      assert.equal(await listenOk(server, pipe), pipe);
      assert.equal(await fetchReply(pipe, undefined, 'ping'), 'pipe:ping');
      const c = net.connect(pipe);
      let got = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => { got += d; });
      c.write('lib');
      await new Promise((r) => c.once('close', r));
      assert.equal(got, 'pipe:lib');
      await closeServer(server);
      assert.equal(await probe(pipe), 'ENOENT');
    });
  }

  test(`${lib}: on Windows, a second server on a named pipe in use gets EADDRINUSE`, { timeout: 10000, skip: process.platform !== 'win32' }, async () => {
    const pipe = `\\\\.\\pipe\\wasinet-busy-${process.pid}`;
    const a = net.createServer();
    await listenOk(a, pipe);
    const err = await listenErr(net.createServer(), pipe);
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.address, pipe);
    await closeServer(a);
  });

}
