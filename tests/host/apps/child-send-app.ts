// child_process send() of a server or a socket to a forked child (tests/host/child-send.test.ts).
// `node child-send-app.js LIB SCENARIO [unix|tcp] [CHILDLIB]`: the parent's `net` is LIB (node
// or wasinet); the child answers on what it was sent (a node:net object, which Node makes there,
// or with CHILDLIB wasinet a child that loaded wasinet, a wasinet socket). The parent
// prints its log as one JSON line, the same on both libraries when wasinet behaves as node:net.
//
// server:   the listening server goes to the child; the parent closes its own; every connection
//           is then the child's.
// socket:   a connection accepted with pauseOnConnect goes to the child, which reads the request
//           and answers; the parent's socket is let go of (_handle null, writes refused, 'close'
//           only when destroyed) and its server counts it no more.
// keepOpen: both keep the connection: the child answers, then the parent writes and ends.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodeNet from 'node:net';
import type { AddressInfo } from 'node:net';

const me = fileURLToPath(import.meta.url);

if (process.argv[2] === 'child') {
  // A child that loaded wasinet gets a connection sent to it as a wasinet socket.
  const wasinet = process.argv[3] === 'wasinet' ? (await import('../../../host/index.js')).default as unknown as typeof nodeNet : null;
  process.on('message', (m: { what: string }, thing: nodeNet.Server | nodeNet.Socket) => {
    if (m.what === 'server') {
      const server = thing as nodeNet.Server;
      server.on('connection', (c) => c.end('from child\n'));
      process.send!({ what: 'listening', isServer: server instanceof nodeNet.Server });
    } else if (m.what === 'http') {
      // An http server's request, answered here on the socket it came on.
      const req = m as unknown as { method: string; url: string };
      void import('node:http').then((http) => {
        const res = new http.ServerResponse({ method: req.method, httpVersionMajor: 1, httpVersionMinor: 1, headers: {} } as never);
        res.shouldKeepAlive = false;
        res.assignSocket(thing as nodeNet.Socket);
        res.end(`from child: ${req.method} ${req.url}`);
      });
    } else if (m.what === 'socket' || m.what === 'keep') {
      const socket = thing as nodeNet.Socket;
      let got = '';
      socket.on('data', (d) => {
        got += d;
        if (!got.endsWith('\n')) return;
        const kind = wasinet !== null && socket instanceof wasinet.Socket ? 'wasinet' : socket instanceof nodeNet.Socket ? 'node:net' : '?';
        socket.write(`child got ${got}`, () => process.send!({ what: 'wrote', kind }));
      });
      // The parent says when to end it (it counts it meanwhile).
      if (m.what === 'socket') process.once('message', () => socket.end());
    }
  });
  process.on('disconnect', () => process.exit());
  process.send!({ what: 'ready' });
} else {
  const [lib, scenario, transport, childLib] = process.argv.slice(2);
  const unix = transport === 'unix';
  const net: typeof nodeNet = lib === 'wasinet' ? (await import('../../../host/index.js')).default as unknown as typeof nodeNet : nodeNet;
  const log: unknown[] = [];
  const child = fork(me, ['child', childLib ?? 'node'], { execArgv: [] });
  await new Promise((resolve) => child.once('message', resolve));
  const path = join(tmpdir(), `child-send-${process.pid}.sock`);
  let target: nodeNet.NetConnectOpts;
  const request = (line: string): Promise<string> => new Promise((resolve, reject) => {
    const s = net.connect(target);
    let d = '';
    s.on('data', (x) => { d += x; });
    s.on('error', reject);
    s.on('close', () => resolve(d));
    s.write(line);
  });
  const listen = (server: nodeNet.Server) => new Promise<void>((resolve) => {
    const listening = () => {
      target = unix ? { path } : { port: (server.address() as AddressInfo).port, host: '127.0.0.1' };
      resolve();
    };
    if (unix) server.listen(path, listening);
    else server.listen(0, '127.0.0.1', listening);
  });
  const closed = (server: nodeNet.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

  if (scenario === 'http') {
    // Run under wasinet/register: the http server's sockets are wasinet's. Node's send frees the
    // request parser of a socket it sends and detaches it from its response.
    const http = await import('node:http');
    let sent!: nodeNet.Socket & { parser?: unknown; _httpMessage?: unknown };
    const server = http.createServer((req, res) => {
      sent = res.socket as typeof sent;
      child.send({ what: 'http', method: req.method, url: req.url }, sent);
      server.close();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const body = await new Promise<string>((resolve, reject) => {
      http.get({ port, host: '127.0.0.1', path: '/x', agent: false }, (res) => {
        let b = '';
        res.on('data', (d) => { b += d; });
        res.on('end', () => resolve(b));
      }).on('error', reject);
    });
    log.push(['body', body], ['parser', sent.parser ?? null], ['response', sent._httpMessage ?? null],
      ['socket', typeof (sent as unknown as Record<symbol, unknown>)[Symbol.for('wasinet.sendHandle')] === 'function' ? 'wasinet' : 'node:net']);
  } else if (scenario === 'server') {
    const server = net.createServer((c) => c.end('from parent\n'));
    await listen(server);
    child.send({ what: 'server' }, server, (err: Error | null) => log.push(['sent', err?.message ?? null, server.listening]));
    log.push(['child', await new Promise((resolve) => child.once('message', resolve))]);
    await closed(server);
    log.push(['parent server closed', server.listening]);
    for (let i = 0; i < 3; i++) log.push(['reply', await request(`hi ${i}\n`)]);
  } else {
    // The order of what the client, the parent's server and the child do is the same on both
    // libraries; only when the client's reply comes, against the server's close, is a race.
    const keep = scenario === 'keepOpen';
    let accepted!: nodeNet.Socket;
    let serverClosed!: Promise<void>;
    const server = net.createServer({ pauseOnConnect: true }, (c) => {
      accepted = c;
      child.send({ what: keep ? 'keep' : 'socket' }, c, keep ? { keepOpen: true } : {}, (err: Error | null) => {
        log.push(['sent', err?.message ?? null, (c as unknown as { _handle: unknown })._handle === null ? 'no handle' : 'handle', c.destroyed]);
        if (keep) return;
        c.on('close', (...args: unknown[]) => log.push(['parent socket close', args]));
        c.on('error', (e: NodeJS.ErrnoException) => log.push(['parent socket error', e.code]));
        c.write('x', (e) => {
          log.push(['write after send', (e as NodeJS.ErrnoException | null)?.code ?? null]);
          c.destroy();
        });
      });
    });
    await listen(server);
    child.once('message', (m: { kind: string }) => {
      log.push(['child wrote', m.kind]);
      if (keep) {
        accepted.end('parent too\n', () => accepted.destroy());
        serverClosed = closed(server);
        return;
      }
      // The child still has the connection: the server counts it there, and its close waits
      // for the child to close it.
      server.getConnections((err, n) => {
        log.push(['connections', err, n]);
        let childEnded = false;
        serverClosed = closed(server).then(() => { log.push(['server closed after the child ended its socket', childEnded]); });
        setTimeout(() => {
          childEnded = true;
          child.send({ what: 'end' });
        }, 100);
      });
    });
    const reply = await request('hello\n');
    while (serverClosed === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    await serverClosed;
    log.push(['reply', reply]);
  }
  child.kill();
  console.log(JSON.stringify(log));
}
