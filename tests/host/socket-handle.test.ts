// `socket._handle` and the other internals Node's own consumers of net use (http, tls, http2):
// wasinet's `_handle` is never a libuv stream that they could adopt and read past the core,
// and what they do call on it behaves as on node:net's. Each test runs on node:net and on
// wasinet with the same assertions, unless it is about what only wasinet promises.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import nodeNet from 'node:net';
import { libs, serve, sleep, until, closed, eventually } from './helpers.js';
import wasinet from '../../host/index.js';

/** Node's `_handle` (not in node:net's types). */
function handleOf(s: object): Record<string, any> | null {
  return (s as { _handle: Record<string, any> | null })._handle;
}

test('wasinet: _handle is not a stream handle Node could consume, for clients and accepted sockets', { timeout: 10000 }, async () => {
  const srv = await serve(wasinet as unknown as typeof nodeNet, (s) => s.resume());
  try {
    const c = wasinet.connect(srv.port, '127.0.0.1');
    const connecting = handleOf(c);
    assert.ok(connecting, 'a connecting socket has a handle');
    await eventually(c, 'connect');
    await until(() => srv.sockets.length === 1);
    for (const s of [c, srv.sockets[0]]) {
      const h = handleOf(s);
      assert.ok(h);
      assert.equal(h.isStreamBase, undefined, 'not a StreamBase: http, tls and http2 wrap the Duplex instead');
      assert.equal(typeof h.readStart, 'function');
      assert.equal(typeof h.readStop, 'function');
      assert.equal(typeof h.getAsyncId, 'function');
      assert.equal(typeof h.setNoDelay, 'function');
      assert.ok((h.fd as number) > 0, 'fd of the transport');
    }
    assert.equal(handleOf(c), connecting, 'one handle object for the whole connection');
    c.destroy();
    await closed(c);
    assert.equal(handleOf(c), null);
  } finally { await srv.close(); }
});

for (const [lib, net] of libs) {
  test(`${lib}: an http server fed by the library's server answers, and the socket counts every byte`, { timeout: 15000 }, async () => {
    const hs = http.createServer((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => { n += d.length; });
      req.on('end', () => res.end(`got ${n}`));
    });
    const served = await serve(net, (s) => hs.emit('connection', s));
    try {
      const body = Buffer.alloc(100000, 7);
      // A raw node:net client, so the exact bytes each way are known.
      const raw = nodeNet.connect(served.port, '127.0.0.1');
      const request = Buffer.concat([Buffer.from(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]);
      raw.end(request);
      const chunks: Buffer[] = [];
      raw.on('data', (d: Buffer) => chunks.push(d));
      await closed(raw);
      const response = Buffer.concat(chunks).toString('latin1');
      assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(response.endsWith('got 100000'), response.slice(-40));
      const s = served.sockets[0];
      await until(() => s.destroyed);
      assert.equal(s.bytesRead, request.length, 'bytesRead: the whole request');
      assert.equal(s.bytesWritten, Buffer.byteLength(response, 'latin1'), 'bytesWritten: the whole response');
    } finally {
      await served.close();
      hs.close();
    }
  });

  test(`${lib}: _unrefTimer() counts as activity for setTimeout, and the timeout fires once it stops`, { timeout: 10000 }, async () => {
    const srv = await serve(net, (s) => s.resume());
    try {
      const c = net.connect(srv.port, '127.0.0.1');
      await eventually(c, 'connect');
      let fired = 0;
      c.setTimeout(150, () => { fired++; });
      const refresh = setInterval(() => (c as unknown as { _unrefTimer(): void })._unrefTimer(), 40);
      await sleep(500);
      clearInterval(refresh);
      assert.equal(fired, 0, 'no timeout while the timer was refreshed');
      await until(() => fired === 1, 3000, "'timeout'");
      c.destroy();
    } finally { await srv.close(); }
  });

  test(`${lib}: _handle.close() then write(): 'write EBADF'; with _handle = null: ERR_SOCKET_CLOSED`, { timeout: 10000 }, async () => {
    const srv = await serve(net, (s) => s.resume());
    try {
      const c1 = net.connect(srv.port, '127.0.0.1');
      await eventually(c1, 'connect');
      const errors: Error[] = [];
      c1.on('error', (e) => errors.push(e));
      handleOf(c1)!.close();
      c1.write('foo');
      // node:net emits no 'close' here (its destroy closes the closed handle again, and libuv
      // never calls back); wasinet does. Wait for the error.
      await until(() => errors.length > 0 && c1.destroyed);
      assert.equal(errors.length, 1);
      assert.equal(errors[0].constructor, Error);
      assert.equal(errors[0].message, 'write EBADF');

      const c2 = net.connect(srv.port, '127.0.0.1');
      await eventually(c2, 'connect');
      const errors2: NodeJS.ErrnoException[] = [];
      c2.on('error', (e) => errors2.push(e));
      handleOf(c2)!.close();
      (c2 as unknown as { _handle: null })._handle = null;
      c2.write('foo');
      await closed(c2);
      assert.deepEqual(errors2.map((e) => [e.code, e.message]), [['ERR_SOCKET_CLOSED', 'Socket is closed']]);
    } finally { await srv.close(); }
  });

  test(`${lib}: _handle.setNoDelay replaced right after connect() is what the noDelay option calls at connect`, { timeout: 10000 }, async () => {
    const srv = await serve(net, (s) => s.resume());
    try {
      const calls: unknown[] = [];
      const c = net.connect({ port: srv.port, host: '127.0.0.1', noDelay: true });
      handleOf(c)!.setNoDelay = (v: unknown) => { calls.push(v); };
      await eventually(c, 'connect');
      await sleep(10);
      assert.deepEqual(calls, [true]);
      // Unchanged: no call; changed: one call with the new value.
      c.setNoDelay(true);
      c.setNoDelay(false);
      assert.deepEqual(calls, [true, false]);
      c.destroy();
    } finally { await srv.close(); }
  });

  test(`${lib}: _handle.readStop()/readStart() pause and resume reading (the http server's onSocketPause/Resume)`, { timeout: 10000 }, async () => {
    let peer: nodeNet.Socket | null = null;
    const srv = await serve(nodeNet, (s) => { peer = s; s.resume(); });
    try {
      const c = net.connect(srv.port, '127.0.0.1');
      let got = 0;
      c.on('data', (d) => { got += d.length; });
      await eventually(c, 'connect');
      await until(() => peer !== null);
      const h = handleOf(c)!;
      c.pause();
      h.readStop();
      peer!.write(Buffer.alloc(1000));
      await sleep(100);
      assert.equal(got, 0, 'nothing delivered while stopped and paused');
      c.resume();
      h.readStart();
      await until(() => got === 1000, 3000, 'the 1000 bytes');
      c.destroy();
    } finally { await srv.close(); }
  });
}

for (const [lib, net] of libs) {
  test(`${lib}: new Socket({ handle }) with a stand-in object: _handle is that object, setNoDelay calls it on changes only`, () => {
    const calls: unknown[] = [];
    const handle = { setNoDelay: (v: unknown) => { calls.push(v); }, readStart() { calls.push('readStart'); } };
    const s = new net.Socket({ handle } as never);
    assert.equal(handleOf(s), handle);
    s.setNoDelay();
    for (const v of [true, 1, 'true', {}, []]) s.setNoDelay(v as never);
    for (const v of [false, 0, '']) s.setNoDelay(v as never);
    s.setNoDelay(true);
    assert.deepEqual(calls, ['readStart', true, false, true]);
    const none = new net.Socket({ handle: { setNoDelay: null, readStart() {} } } as never);
    assert.equal(none.setNoDelay(true), none);
  });

  test(`${lib}: --no-network-family-autoselection and the attempt timeout flag set the defaults`, () => {
    const lib2 = lib === 'node:net' ? 'node:net' : new URL('../../host/index.js', import.meta.url).href;
    const r = spawnSync(process.execPath, ['--no-network-family-autoselection', '--network-family-autoselection-attempt-timeout=600',
      '--input-type=module', '-e',
      `import net from ${JSON.stringify(lib2)}; console.log(JSON.stringify([net.getDefaultAutoSelectFamily(), net.getDefaultAutoSelectFamilyAttemptTimeout()]))`],
    { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [false, 600]);
    // Below 10 the flag is taken as given (Node clamps in the setter and in connect()'s option only).
    const low = spawnSync(process.execPath, ['--network-family-autoselection-attempt-timeout=5', '--input-type=module', '-e',
      `import net from ${JSON.stringify(lib2)}; console.log(net.getDefaultAutoSelectFamilyAttemptTimeout())`], { encoding: 'utf8' });
    assert.equal(low.stdout.trim(), '5', low.stderr);
  });
}

test('wasinet: new Socket({ handle }) with a libuv stream handle makes it the transport: every byte through the core', { timeout: 10000 }, async () => {
  const srv = await serve(nodeNet, (p) => { p.end('hello from the peer'); p.resume(); });
  try {
    const raw = nodeNet.connect(srv.port, '127.0.0.1');
    await eventually(raw, 'connect');
    const h = handleOf(raw);
    (raw as unknown as { _handle: null })._handle = null; // the node:net socket lets go of it
    const s = new wasinet.Socket({ handle: h } as never);
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('end', () => s.end());
    await closed(s);
    assert.equal(got, 'hello from the peer');
    assert.equal(s.bytesRead, got.length);
  } finally { await srv.close(); }
});
