// Differential scenarios for net.Server and IPC. The library under test is the server side
// (`ctx.net.createServer`), with `ctx.peer` (node:net) clients, unless a scenario says both sides
// are `ctx.net`. Each runs once with node:net and once with wasinet as `net`; the logs must be
// equal. Keep them deterministic: the log records the server's events, its accepted sockets'
// events, address()/listening/getConnections at fixed points, and the peer's state only after
// awaiting it (never two sides' events racing into the log).
import type { Server, Socket } from 'node:net';
import { existsSync, statSync } from 'node:fs';
import { SERVER_EVENTS, summarize, type Context, type Scenario } from './harness.js';
import { props, thrown, once } from './util.js';

/** Resolves once `e` has emitted 'close' (at once if it already has). */
function closedP(e: Socket | Server): Promise<void> {
  if ((e as { closed?: boolean }).closed === true) return Promise.resolve();
  return new Promise((r) => e.once('close', () => r()));
}

/** Listens with `args`; resolves once 'listening' or 'error' came (both logged by watch()). */
function listen(server: Server, ...args: unknown[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { server.off('listening', done); server.off('error', done); resolve(); };
    server.on('listening', done);
    server.on('error', done);
    (server.listen as (...a: unknown[]) => unknown)(...args);
  });
}

/** A server of the library under test, its events watched under `label`. */
function libServer(ctx: Context, label: string, opts: object = {}, onConn?: (s: Socket) => void): Server {
  const server = ctx.net.createServer(opts, onConn);
  ctx.log.watch(server, label, SERVER_EVENTS);
  return server;
}

/** Logs address() and listening. */
function state(ctx: Context, label: string, server: Server): void {
  ctx.log.note(label, `address()=${summarize(server.address())} listening=${server.listening}`);
}

/** Logs getConnections()' answer (and that it came asynchronously). */
async function conns(ctx: Context, label: string, server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    let sync = true;
    server.getConnections((err, n) => { ctx.log.note(label, `getConnections err=${summarize(err)} n=${n} sync=${sync}`); resolve(); });
    sync = false;
  });
}

/** Closes `server`, logging the callback's argument; resolves on the callback. */
function close(ctx: Context, label: string, server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close((err?: Error) => { ctx.log.note(label, `close cb ${summarize(err)}`); resolve(); });
  });
}

/** A peer (node:net) client; resolves once connected. Its 'error's are swallowed. */
async function peerClient(ctx: Context, target: number | string, opts: object = {}): Promise<Socket> {
  const c = typeof target === 'number'
    ? ctx.peer.connect({ port: target, host: '127.0.0.1', ...opts })
    : ctx.peer.connect({ path: target, ...opts });
  c.on('error', () => {});
  await once(c, 'connect');
  return c;
}

function portOf(server: Server): number {
  return (server.address() as { port: number }).port;
}

/** Resolves once `server` has accepted `n` connections in total (collected into `into`). */
function accepting(server: Server): { list: Socket[]; wait(n: number): Promise<void> } {
  const list: Socket[] = [];
  server.on('connection', (s: Socket) => list.push(s));
  return {
    list,
    wait: (n) => new Promise((resolve) => {
      const check = () => (list.length >= n ? resolve() : setTimeout(check, 1));
      check();
    }),
  };
}

/** What a peer socket ended up with: bytes read and the reply text. */
function collect(c: Socket): { text(): string } {
  let got = '';
  c.setEncoding('utf8');
  c.on('data', (d: string) => { got += d; });
  return { text: () => got };
}

export const serverScenarios: Scenario[] = [
  {
    name: 'a listen that fails at once (a port in use with no host, a Unix path in use), then close() at once: the error first, then close with ERR_SERVER_NOT_RUNNING; no handle meanwhile',
    async run(ctx) {
      const busy = ctx.peer.createServer();
      await listen(busy, 0);
      const busyPath = ctx.path('busy');
      const busyUnix = ctx.peer.createServer();
      await new Promise<void>((r) => busyUnix.listen(busyPath, r));
      for (const [label, args] of [['port', [portOf(busy)]], ['unix', [busyPath]]] as const) {
        const server = libServer(ctx, label);
        server.on('error', (e) => ctx.log.note(label, `error handler listening=${server.listening}`));
        (server.listen as (...a: unknown[]) => unknown)(...args);
        ctx.log.note(label, `sync listening=${server.listening} handle=${(server as unknown as { _handle: unknown })._handle === null ? 'null' : 'object'}`);
        process.nextTick(() => ctx.log.note(label, 'a tick after listen()'));
        const closed = new Promise<void>((resolve) => server.close((err) => { ctx.log.note(label, `close cb ${summarize(err)}`); resolve(); }));
        await closed;
        await ctx.sleep(10);
      }
      await new Promise((r) => busy.close(r));
      await new Promise((r) => busyUnix.close(r));
    },
  },
  // ------------------------------------------------------------------ TCP lifecycle
  {
    name: 'TCP server lifecycle: listen(0, host), one connection, close',
    async run(ctx) {
      const server = libServer(ctx, 'server');
      state(ctx, 'server', server);
      await listen(server, 0, '127.0.0.1');
      state(ctx, 'server', server);
      const acc = accepting(server);
      const c = await peerClient(ctx, portOf(server));
      const reply = collect(c);
      await acc.wait(1);
      const s = acc.list[0];
      ctx.log.watch(s, 'accepted');
      ctx.log.note('accepted', props(s));
      s.end('welcome');
      await once(c, 'end');
      await closedP(s);
      await closedP(c);
      ctx.log.note('peer', `got ${JSON.stringify(reply.text())}`);
      ctx.log.note('accepted', `closed ${props(s)}`);
      await conns(ctx, 'server', server);
      await close(ctx, 'server', server);
      state(ctx, 'server', server);
    },
  },
  {
    name: 'listen() then close() at once: no listening event, close events and callbacks',
    async run(ctx) {
      const a = libServer(ctx, 'a');
      a.listen({ port: 0 }); // no host: bound synchronously, no lookup to cancel
      a.close((err?: Error) => ctx.log.note('a', `close cb ${summarize(err)}`));
      await ctx.sleep(100);
      state(ctx, 'a', a);
      const b = libServer(ctx, 'b');
      b.listen(ctx.path());
      b.close((err?: Error) => ctx.log.note('b', `close cb ${summarize(err)}`));
      await ctx.sleep(100);
      state(ctx, 'b', b);
    },
  },
  {
    name: 'listen(0) with no host: listening and address() synchronously, then the event',
    async run(ctx) {
      const server = libServer(ctx, 'server');
      server.listen(0);
      ctx.log.note('server', `sync listening=${server.listening} address=${summarize(server.address() && { ...(server.address() as object), port: 'X' })}`);
      await once(server, 'listening');
      ctx.log.note('server', `family=${(server.address() as { family: string }).family}`);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'TCP EADDRINUSE through error; listen again on another port; close',
    async run(ctx) {
      const holder = ctx.peer.createServer();
      await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
      const server = libServer(ctx, 'server');
      await listen(server, portOf(holder), '127.0.0.1');
      state(ctx, 'server', server);
      await listen(server, { port: 0, host: '127.0.0.1' });
      state(ctx, 'server', server);
      await close(ctx, 'server', server);
      await close(ctx, 'server', server);
      await new Promise((r) => holder.close(r));
    },
  },
  {
    name: 'argument errors: listen twice, bad ports, {}, bad options type, close when not running',
    async run(ctx) {
      const server = libServer(ctx, 'server');
      ctx.log.note('createServer(1)', thrown(() => ctx.net.createServer(1 as never)));
      ctx.log.note('createServer("x")', thrown(() => ctx.net.createServer('x' as never)));
      ctx.log.note('listen({})', thrown(() => server.listen({})));
      ctx.log.note('listen({ port: -1 })', thrown(() => server.listen({ port: -1 })));
      ctx.log.note('listen(65536)', thrown(() => server.listen(65536)));
      ctx.log.note('listen({ port: "x1" })', thrown(() => server.listen({ port: 'x1' as never })));
      ctx.log.note('listen(true)', thrown(() => server.listen(true as never)));
      ctx.log.note('listen({ path: abstract, readableAll })', thrown(() => server.listen({ path: '\0x', readableAll: true })));
      state(ctx, 'server', server);
      await close(ctx, 'server', server);
      ctx.log.note('listen(path)', thrown(() => server.listen(ctx.path())));
      ctx.log.note('listen(path) again', thrown(() => server.listen(ctx.path())));
      await once(server, 'listening');
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'close() with open connections: no new connections, old ones work, close after the last one',
    async run(ctx) {
      const server = libServer(ctx, 'server', {}, (s) => { s.on('data', (d) => s.write(`echo:${d}`)); });
      await listen(server, 0, '127.0.0.1');
      const port = portOf(server);
      const acc = accepting(server);
      const a = await peerClient(ctx, port);
      const b = await peerClient(ctx, port);
      await acc.wait(2);
      acc.list.forEach((s, i) => ctx.log.watch(s, `accepted${i}`, ['end', 'finish', 'error', 'close']));
      server.close((err?: Error) => ctx.log.note('server', `close cb ${summarize(err)}`));
      state(ctx, 'server', server);
      await conns(ctx, 'server', server);
      const refused = ctx.peer.connect(port, '127.0.0.1');
      ctx.log.watch(refused, 'late client', ['connect', 'error', 'close']);
      await closedP(refused);
      const replyA = collect(a);
      a.write('x');
      await ctx.until(() => replyA.text() === 'echo:x');
      ctx.log.note('peer a', `got ${replyA.text()}`);
      a.end();
      await closedP(acc.list[0]);
      await conns(ctx, 'server', server);
      b.destroy();
      await closedP(acc.list[1]);
      await ctx.sleep(20);
      await conns(ctx, 'server', server);
    },
  },
  {
    // Node's _destroy queues the socket's 'error' before the closed server's 'close' that the
    // socket's end lets through (_emitCloseIfDrained).
    name: 'close() with one connection left, then it is destroyed with an error: its error, then the server\'s close',
    async run(ctx) {
      const server = libServer(ctx, 'server', {}, () => {});
      await listen(server, 0, '127.0.0.1');
      const port = portOf(server);
      const acc = accepting(server);
      const a = await peerClient(ctx, port);
      await acc.wait(1);
      ctx.log.watch(acc.list[0], 'accepted', ['end', 'finish', 'error', 'close']);
      server.close((err?: Error) => ctx.log.note('server', `close cb ${summarize(err)}`));
      await ctx.sleep(10);
      const closed = once(acc.list[0], 'close'); // its 'close' event, not the stream's `closed`
      acc.list[0].destroy(new Error('boom'));
      ctx.log.note('accepted', 'destroy(err) returned');
      await closed;
      await closedP(a);
    },
  },
  {
    name: 'getConnections through a server life',
    async run(ctx) {
      const server = libServer(ctx, 'server');
      await conns(ctx, 'before listen', server);
      await listen(server, 0, '127.0.0.1');
      const acc = accepting(server);
      await conns(ctx, 'listening', server);
      const clients: Socket[] = [];
      for (let i = 0; i < 3; i++) {
        clients.push(await peerClient(ctx, portOf(server)));
        await acc.wait(i + 1);
        await conns(ctx, `after ${i + 1}`, server);
      }
      acc.list[0].destroy();
      await closedP(acc.list[0]);
      await conns(ctx, 'server destroyed one', server);
      clients[1].destroy();
      await closedP(acc.list[1]);
      await conns(ctx, 'peer destroyed one', server);
      clients[2].destroy();
      await closedP(acc.list[2]);
      await close(ctx, 'server', server);
      await conns(ctx, 'closed', server);
    },
  },
  {
    name: 'maxConnections over TCP: the extra connection is closed and drop has Node 20 fields',
    async run(ctx) {
      const server = libServer(ctx, 'server');
      server.maxConnections = 1;
      ctx.log.note('server', `maxConnections=${server.maxConnections}`);
      await listen(server, 0, '127.0.0.1');
      const acc = accepting(server);
      const a = await peerClient(ctx, portOf(server));
      await acc.wait(1);
      const b = await peerClient(ctx, portOf(server));
      b.resume();
      ctx.log.note('dropped', `localPort=${b.localPort}`);
      await closedP(b);
      await ctx.sleep(20);
      ctx.log.note('dropped', `closed bytesRead=${b.bytesRead}`);
      await conns(ctx, 'server', server);
      a.destroy();
      await closedP(acc.list[0]);
      const c = await peerClient(ctx, portOf(server));
      await acc.wait(2);
      ctx.log.note('server', `accepted ${acc.list.length}`);
      c.destroy();
      await closedP(acc.list[1]);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'maxConnections values compared as Node does (0, -1, 1.5)',
    async run(ctx) {
      for (const max of [0, -1, 1.5]) {
        const server = ctx.net.createServer();
        server.maxConnections = max;
        let drops = 0;
        server.on('drop', () => { drops++; });
        await listen(server, 0, '127.0.0.1');
        const acc = accepting(server);
        const cs: Socket[] = [];
        for (let i = 0; i < 3; i++) cs.push(await peerClient(ctx, portOf(server)));
        await ctx.until(() => acc.list.length + drops === 3);
        ctx.log.note(`max ${max}`, `accepted=${acc.list.length} drops=${drops}`);
        cs.forEach((c) => c.destroy());
        await Promise.all(acc.list.map((s) => (s.destroyed ? null : closedP(s))));
        await new Promise((r) => server.close(r));
      }
    },
  },
  {
    name: 'pauseOnConnect: accepted socket reads nothing until resume()',
    async run(ctx) {
      const server = libServer(ctx, 'server', { pauseOnConnect: true });
      await listen(server, 0, '127.0.0.1');
      const acc = accepting(server);
      const c = await peerClient(ctx, portOf(server));
      await acc.wait(1);
      const s = acc.list[0];
      ctx.log.watch(s, 'accepted', ['data', 'end', 'finish', 'close']);
      ctx.log.note('accepted', `isPaused=${s.isPaused()} flowing=${s.readableFlowing} ${props(s)}`);
      await new Promise<void>((r) => c.write('0123456789', () => r()));
      c.end();
      await ctx.sleep(100);
      ctx.log.note('accepted', `still paused: bytesRead=${s.bytesRead} readableLength=${s.readableLength}`);
      s.resume();
      await closedP(s);
      ctx.log.note('accepted', `closed bytesRead=${s.bytesRead}`);
      await closedP(c);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'allowHalfOpen server: the accepted socket answers after the peer FIN',
    async run(ctx) {
      const server = libServer(ctx, 'server', { allowHalfOpen: true });
      await listen(server, 0, '127.0.0.1');
      const acc = accepting(server);
      const c = await peerClient(ctx, portOf(server), { allowHalfOpen: true });
      const reply = collect(c);
      await acc.wait(1);
      const s = acc.list[0];
      ctx.log.watch(s, 'accepted');
      ctx.log.note('accepted', `allowHalfOpen=${s.allowHalfOpen}`);
      c.end('question');
      await once(s, 'end');
      ctx.log.note('accepted', `after end writable=${s.writable} readyState=${s.readyState}`);
      ctx.log.note('accepted', `write -> ${s.write('answer')}`);
      s.end();
      await closedP(s);
      await closedP(c);
      ctx.log.note('peer', `got ${reply.text()}`);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'accepted socket destroy(err): error then close(true); the peer sees end',
    async run(ctx) {
      const server = libServer(ctx, 'server');
      await listen(server, 0, '127.0.0.1');
      const acc = accepting(server);
      const c = await peerClient(ctx, portOf(server));
      c.resume();
      await acc.wait(1);
      const s = acc.list[0];
      ctx.log.watch(s, 'accepted');
      s.destroy(new Error('server side failure'));
      ctx.log.note('accepted', `after destroy ${props(s)}`);
      await closedP(s);
      await closedP(c);
      ctx.log.note('peer', `closed readableEnded=${c.readableEnded}`);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'IPv6 server on ::1: address(), accepted socket addresses',
    async run(ctx) {
      const server = libServer(ctx, 'server');
      await listen(server, { port: 0, host: '::1' });
      state(ctx, 'server', server);
      const acc = accepting(server);
      const c = ctx.peer.connect(portOf(server), '::1');
      c.on('error', () => {});
      await once(c, 'connect');
      await acc.wait(1);
      ctx.log.note('accepted', props(acc.list[0]));
      c.destroy();
      await closedP(acc.list[0]);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'ipv6Only: IPv4 refused, IPv6 accepted',
    async run(ctx) {
      const server = libServer(ctx, 'server', {}, (s) => s.end('v6'));
      await listen(server, { port: 0, host: '::', ipv6Only: true });
      state(ctx, 'server', server);
      const v4 = ctx.peer.connect(portOf(server), '127.0.0.1');
      ctx.log.watch(v4, 'v4 client', ['connect', 'error', 'close']);
      await closedP(v4);
      const v6 = ctx.peer.connect(portOf(server), '::1');
      const got = collect(v6);
      await closedP(v6);
      ctx.log.note('v6 client', `got ${got.text()}`);
      await close(ctx, 'server', server);
    },
  },
  // ------------------------------------------------------------------ IPC
  {
    name: 'IPC server lifecycle: listen(path), file, one connection, close unlinks',
    async run(ctx) {
      const path = ctx.path();
      const server = libServer(ctx, 'server');
      await listen(server, path);
      state(ctx, 'server', server);
      ctx.log.note('file', `exists=${existsSync(path)} socket=${statSync(path).isSocket()}`);
      const acc = accepting(server);
      const c = await peerClient(ctx, path);
      const reply = collect(c);
      await acc.wait(1);
      const s = acc.list[0];
      ctx.log.watch(s, 'accepted');
      ctx.log.note('accepted', props(s));
      s.end('over ipc');
      await once(c, 'end');
      c.end();
      await closedP(s);
      await closedP(c);
      ctx.log.note('peer', `got ${reply.text()}`);
      await close(ctx, 'server', server);
      state(ctx, 'server', server);
      ctx.log.note('file', `exists=${existsSync(path)}`);
    },
  },
  {
    // Node keeps `_pipeName` after a pipe listen: address() answers the old path whenever no
    // handle is listening, and a TCP listen's own address while one is.
    name: 'one server listens on a Unix path, then on TCP (with and without a host), then on the path again: listening and address() at each step',
    async run(ctx) {
      const path = ctx.path();
      const server = libServer(ctx, 'server');
      await listen(server, path);
      state(ctx, 'pipe', server);
      await close(ctx, 'pipe', server);
      state(ctx, 'closed', server);
      server.listen(0, '127.0.0.1');
      state(ctx, 'listen(0, host) called', server);
      await once(server, 'listening');
      state(ctx, 'tcp with host', server);
      await close(ctx, 'tcp with host', server);
      state(ctx, 'closed', server);
      server.listen(0);
      state(ctx, 'listen(0) called', server);
      await once(server, 'listening');
      await close(ctx, 'tcp', server);
      state(ctx, 'closed', server);
      server.listen(path);
      state(ctx, 'listen(path) called', server);
      await once(server, 'listening');
      state(ctx, 'pipe again', server);
      await close(ctx, 'pipe again', server);
    },
  },
  {
    name: 'IPC EADDRINUSE (path in use, and a regular file), then listen elsewhere',
    async run(ctx) {
      const path = ctx.path();
      const holder = ctx.peer.createServer();
      await new Promise<void>((r) => holder.listen(path, () => r()));
      const server = libServer(ctx, 'server');
      await listen(server, path);
      state(ctx, 'server', server);
      const { writeFileSync } = await import('node:fs');
      const file = ctx.path('file');
      writeFileSync(file, 'x');
      await listen(server, { path: file });
      state(ctx, 'server', server);
      await listen(server, ctx.path());
      state(ctx, 'server', server);
      await close(ctx, 'server', server);
      await new Promise((r) => holder.close(r));
    },
  },
  {
    name: 'IPC maxConnections: drop without an argument',
    async run(ctx) {
      const path = ctx.path();
      const server = libServer(ctx, 'server');
      server.maxConnections = 1;
      await listen(server, path);
      const acc = accepting(server);
      const a = await peerClient(ctx, path);
      await acc.wait(1);
      const b = await peerClient(ctx, path);
      b.resume();
      await closedP(b);
      await conns(ctx, 'server', server);
      a.destroy();
      await closedP(acc.list[0]);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'IPC both sides on the library: exchange, half-close, close',
    async run(ctx) {
      const path = ctx.path();
      const server = libServer(ctx, 'server', { allowHalfOpen: true });
      await listen(server, path);
      const acc = accepting(server);
      const c = ctx.net.connect({ path, allowHalfOpen: true });
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      await acc.wait(1);
      const s = acc.list[0];
      ctx.log.note('client', props(c));
      ctx.log.note('accepted', props(s));
      const got = collect(s);
      c.end('ping over ipc');
      await once(s, 'end');
      ctx.log.note('accepted', `got ${got.text()}`);
      s.end('pong');
      await closedP(c);
      await closedP(s);
      ctx.log.note('client', `closed ${props(c)}`);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'TCP both sides on the library: server and client events, then close',
    async run(ctx) {
      const server = libServer(ctx, 'server');
      await listen(server, 0, '127.0.0.1');
      const acc = accepting(server);
      const c = ctx.net.connect(portOf(server), '127.0.0.1');
      ctx.log.watch(c, 'client');
      await once(c, 'connect');
      await acc.wait(1);
      const s = acc.list[0];
      ctx.log.note('accepted', props(s));
      const got = collect(s);
      c.write('abc');
      await ctx.until(() => got.text() === 'abc');
      s.end('bye');
      await closedP(c);
      await closedP(s);
      ctx.log.note('accepted', `closed ${props(s)}`);
      await conns(ctx, 'server', server);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'IPC client errors: ENOENT on a missing path, ECONNREFUSED on a socket nobody listens on',
    async run(ctx) {
      const missing = ctx.net.connect(ctx.path('missing'));
      ctx.log.watch(missing, 'missing');
      await closedP(missing);
      // A stale socket file: bound by a listener whose fd is closed without unlinking.
      const path = ctx.path('stale');
      const { spawnSync } = await import('node:child_process');
      const r = spawnSync(process.execPath, ['-e',
        `const s = require('net').createServer(); s.listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'));`]);
      ctx.log.note('stale', `child signal=${r.signal} file=${existsSync(path)}`);
      const refused = ctx.net.connect(path);
      ctx.log.watch(refused, 'refused');
      await closedP(refused);
      const server = libServer(ctx, 'server');
      await listen(server, path);
      state(ctx, 'server', server);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'IPC abstract socket name (Linux): listen, connect, close',
    async run(ctx) {
      if (process.platform !== 'linux') { ctx.log.note('skip', 'not linux'); return; }
      const name = `\0wasinet-diff-abstract-${process.pid}`;
      const server = libServer(ctx, 'server', {}, (s) => s.end('abstract'));
      try {
        await listen(server, name);
      } catch (e) {
        ctx.log.note('server', `listen throws ${summarize(e)}`);
        return;
      }
      ctx.log.note('server', `address matches=${server.address() === name} listening=${server.listening}`);
      const c = ctx.peer.connect(name);
      const got = collect(c);
      await closedP(c);
      ctx.log.note('peer', `got ${got.text()}`);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'listen(handle): a listening peer server handed to the library',
    async run(ctx) {
      const other = ctx.peer.createServer((s) => s.end('other'));
      await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
      const server = libServer(ctx, 'server', {}, (s) => s.end('taker'));
      await listen(server, other);
      state(ctx, 'server', server);
      const c = ctx.peer.connect(portOf(other), '127.0.0.1');
      c.on('error', () => {});
      const got = collect(c);
      await closedP(c);
      ctx.log.note('peer', `got ${got.text()}`);
      await close(ctx, 'server', server);
      await new Promise((r) => other.close(r));
    },
  },
  {
    name: 'second listen() while the host lookup is pending: supersedes, one listening',
    async run(ctx) {
      const server = libServer(ctx, 'server');
      ctx.log.note('first', thrown(() => server.listen(0, 'localhost')));
      ctx.log.note('second', thrown(() => server.listen(0, '127.0.0.1')));
      await ctx.sleep(200);
      state(ctx, 'server', server);
      await close(ctx, 'server', server);
    },
  },
  {
    name: 'close() while the host lookup is pending: ERR_SERVER_NOT_RUNNING, never listening',
    async run(ctx) {
      const server = libServer(ctx, 'server');
      server.listen(0, '127.0.0.1');
      server.close((err?: Error) => ctx.log.note('server', `close cb ${summarize(err)}`));
      await ctx.sleep(150);
      state(ctx, 'server', server);
    },
  },
  {
    name: 'listen({ fd }) with a descriptor that is not an integer: EINVAL from listen, whatever the descriptor below it is',
    async run(ctx) {
      // A listening socket's descriptor plus a half: not it (an integer part that is a socket
      // one could listen on does not count).
      const peer = ctx.peer.createServer();
      await new Promise<void>((r) => peer.listen(0, '127.0.0.1', () => r()));
      const listening = (peer as unknown as { _handle: { fd: number } })._handle.fd;
      for (const [label, fd] of [['0.5', 0.5], ['a listening socket\'s + 0.5', listening + 0.5]] as const) {
        const server = libServer(ctx, `fd ${label}`);
        server.listen({ fd });
        await ctx.sleep(30);
        state(ctx, `fd ${label}`, server);
        if (server.listening) await close(ctx, `fd ${label}`, server);
      }
      await new Promise((r) => peer.close(r));
    },
  },
  {
    name: 'listen({ fd }) with no descriptor at all (a fraction, beyond int32): EINVAL from listen, on every transport',
    async run(ctx) {
      for (const fd of [0.5, 2 ** 31, 2 ** 31 + 0.5]) {
        const server = libServer(ctx, `fd ${fd}`);
        server.listen({ fd });
        ctx.log.note(`fd ${fd}`, `after listen(): listening=${server.listening}`);
        await ctx.sleep(30);
        state(ctx, `fd ${fd}`, server);
      }
    },
  },
];
