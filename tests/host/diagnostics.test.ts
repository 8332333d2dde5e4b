// node:net's diagnostics channels: 'net.client.socket' (net.connect), 'net.server.socket' (after
// 'connection') and the 'net.server.listen' tracing channel. Every test runs on node:net and on
// wasinet with the same assertions; on wasinet the subscriber must see wasinet's own objects,
// never the raw transport's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { libs, sockPath } from './helpers.js';

type Msg = { socket?: unknown; server?: unknown; options?: Record<string, unknown>; error?: NodeJS.ErrnoException };

/** Subscribes to the net channels; returns the log and an unsubscribe function. */
function watch(): { log: [string, Msg][]; stop(): void } {
  const log: [string, Msg][] = [];
  const client = (m: unknown) => log.push(['client', m as Msg]);
  const server = (m: unknown) => log.push(['server', m as Msg]);
  const listen = {
    start: (m: unknown) => log.push(['start', m as Msg]),
    end: (m: unknown) => log.push(['end', m as Msg]),
    asyncStart: (m: unknown) => log.push(['asyncStart', m as Msg]),
    asyncEnd: (m: unknown) => log.push(['asyncEnd', m as Msg]),
    error: (m: unknown) => log.push(['error', m as Msg]),
  };
  dc.subscribe('net.client.socket', client);
  dc.subscribe('net.server.socket', server);
  dc.tracingChannel('net.server.listen').subscribe(listen);
  return {
    log,
    stop() {
      dc.unsubscribe('net.client.socket', client);
      dc.unsubscribe('net.server.socket', server);
      dc.tracingChannel('net.server.listen').unsubscribe(listen);
    },
  };
}

for (const [name, net] of libs) {
  test(`${name}: 'net.server.socket' is published after the server's 'connection' listeners ran`, async () => {
    const order: string[] = [];
    const onSocket = (m: unknown) => order.push(`published, destroyed ${(m as { socket: { destroyed: boolean } }).socket.destroyed}`);
    dc.subscribe('net.server.socket', onSocket);
    try {
      const server = net.createServer((s) => { order.push('connection'); s.destroy(); });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const client = net.connect((server.address() as { port: number }).port, '127.0.0.1');
      client.on('error', () => {});
      await new Promise((resolve) => client.on('close', resolve));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      assert.deepEqual(order, ['connection', 'published, destroyed true']);
    } finally {
      dc.unsubscribe('net.server.socket', onSocket);
    }
  });

  test(`${name}: listen's signal closes the server even when an abort listener before it stops the event's propagation`, async () => {
    const ac = new AbortController();
    ac.signal.addEventListener('abort', (e) => e.stopImmediatePropagation());
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', signal: ac.signal }, resolve));
    const closed = new Promise((resolve) => server.on('close', resolve));
    ac.abort();
    assert.equal(server.listening, false);
    await closed;
  });

  test(`${name}: a TCP listen and one connection publish asyncStart (with the caller's options), asyncEnd, one client and one server socket, all of this library`, async () => {
    const w = watch();
    try {
      let accepted: unknown;
      const server = net.createServer((s) => { accepted = s; s.destroy(); });
      const options = { port: 0, host: '127.0.0.1', customOption: true };
      await new Promise<void>((resolve) => server.listen(options, resolve));
      assert.deepEqual(w.log.map(([k]) => k), ['asyncStart', 'asyncEnd']);
      assert.equal(w.log[0][1].server, server);
      assert.equal(w.log[0][1].options, options, 'the options object listen() was given');
      assert.equal(w.log[1][1].server, server);

      const client = net.connect((server.address() as { port: number }).port, '127.0.0.1');
      client.on('error', () => {});
      await new Promise((resolve) => client.on('close', resolve));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const kinds = w.log.map(([k]) => k);
      assert.deepEqual(kinds, ['asyncStart', 'asyncEnd', 'client', 'server']);
      assert.equal(w.log[2][1].socket, client);
      assert.ok(w.log[2][1].socket instanceof net.Socket);
      assert.equal(w.log[3][1].socket, accepted);
      assert.ok(w.log[3][1].socket instanceof net.Socket);
    } finally {
      w.stop();
    }
  });

  test(`${name}: new Socket().connect() publishes no client socket; a Unix-socket listen publishes asyncStart and asyncEnd`, async () => {
    const w = watch();
    try {
      const path = sockPath('dc');
      const server = net.createServer((s) => s.end());
      await new Promise<void>((resolve) => server.listen(path, resolve));
      const socket = new net.Socket();
      socket.connect(path);
      socket.resume();
      await new Promise((resolve) => socket.on('close', resolve));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      assert.deepEqual(w.log.map(([k]) => k), ['asyncStart', 'asyncEnd', 'server']);
      assert.deepEqual(w.log[0][1].options, { path });
      assert.ok(w.log[2][1].socket instanceof net.Socket);
    } finally {
      w.stop();
    }
  });

  test(`${name}: a listen that fails with EADDRINUSE publishes asyncStart then error (with the error), no asyncEnd`, async () => {
    const first = net.createServer();
    await new Promise<void>((resolve) => first.listen(0, '127.0.0.1', resolve));
    const w = watch();
    try {
      const second = net.createServer();
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
        second.on('error', resolve);
        second.listen({ port: (first.address() as { port: number }).port, host: '127.0.0.1' });
      });
      assert.equal(err.code, 'EADDRINUSE');
      assert.deepEqual(w.log.map(([k]) => k), ['asyncStart', 'error']);
      assert.equal(w.log[1][1].server, second);
      assert.equal(w.log[1][1].error, err);
    } finally {
      w.stop();
      await new Promise<void>((resolve) => first.close(() => resolve()));
    }
  });
}
