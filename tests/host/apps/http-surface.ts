// An unmodified program that exercises http.Server's listening surface and http.Agent's
// connections, logging what it observes. tests/host/register.test.ts runs it on plain Node and
// under `wasinet/register` (which makes http listen and connect through wasinet): the two logs
// must be the same, line for line. The last line says which net served each connection (not
// part of the comparison). Argument: a Unix socket path to listen on. The program is
// deterministic in what it writes, so WASINET_RECORD's trace of it replays (WASINET_REPLAY).
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';

const unixPath = process.argv[2];
const log: string[] = [];
const seen: boolean[] = [];
process.on('exit', (code) => {
  if (code === 13) log.push('unsettled: the program stopped waiting');
  console.log(JSON.stringify(log));
  console.log(JSON.stringify({ wasinet: seen }));
});
// (Not instanceof: under the hook Node's own sockets pass `instanceof net.Socket` too, as on node:net.)
const onWasinet = (s: net.Socket): boolean => 'createStack' in net && Object.getPrototypeOf(s) === net.Socket.prototype;
const err = (e: unknown): string => {
  const x = e as NodeJS.ErrnoException;
  return `${x.name} ${x.code} ${x.syscall ?? ''} ${x.message.replace(/:\d+$/, ':PORT')}`;
};

function body(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let b = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => { b += d; });
    res.on('end', () => resolve(b));
    res.on('error', reject);
  });
}

function request(opts: http.RequestOptions, payload?: string): Promise<{ status: number; text: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request(opts, async (res) => resolve({ status: res.statusCode ?? 0, text: await body(res), reused: req.reusedSocket }));
    req.on('socket', (s: net.Socket) => seen.push(onWasinet(s)));
    req.on('error', reject);
    req.end(payload);
  });
}

let slowArrived = (): void => {};
const arrived = new Promise<void>((resolve) => { slowArrived = resolve; });
const server = http.createServer((req, res) => {
  let b = '';
  req.on('data', (d) => { b += d; });
  req.on('end', () => {
    if (req.url === '/slow') { slowArrived(); setTimeout(() => res.end('late'), 50); return; }
    res.setHeader('x-remote-family', req.socket.remoteFamily ?? 'none');
    // SURFACE_VARIANT: a changed program (its replay must diverge at this response).
    res.end(`${process.env.SURFACE_VARIANT ?? ''}${req.method} ${req.url} ${b}`);
  });
});
server.on('connection', (s: net.Socket) => {
  seen.push(onWasinet(s));
  log.push(`connection: server is socket.server ${(s as net.Socket & { server?: unknown }).server === server}, allowHalfOpen ${s.allowHalfOpen}`);
});
for (const e of ['listening', 'close'] as const) server.on(e, () => log.push(`event ${e}, listening ${server.listening}`));

log.push(`fresh: listening ${server.listening}, address ${server.address()}, maxConnections ${server.maxConnections}`);
server.listen(0, '127.0.0.1', function (this: http.Server) {
  log.push(`listen callback: this is the server ${this === server}, family ${(server.address() as net.AddressInfo).family}`);
});
await once(server, 'listening');
const { port } = server.address() as net.AddressInfo;
try { server.listen(0); } catch (e) { log.push(`listen again: ${err(e)}`); }

// The global agent keeps connections alive: the second request reuses the first's socket.
for (const path of ['/a', '/b']) {
  const r = await request({ port, host: '127.0.0.1', method: 'POST', path }, `to ${path}`);
  log.push(`response ${r.status} "${r.text}" reused ${r.reused}`);
}
const count = await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
const book = server as unknown as { _connections: number; _connectionKey: string };
log.push(`getConnections ${count}, _connections ${book._connections}, _connectionKey ${book._connectionKey.replace(/:\d+$/, ':PORT')}`);
// `net` is wasinet's under the hook: an http.Server is still a net.Server, a socket Node's http
// made is a net.Socket, and a net.Server subclass is not an http.Server.
class Sub extends net.Server {}
log.push(`instanceof net.Server ${server instanceof net.Server}, instanceof a subclass ${server instanceof Sub}, a plain net.Server is one ${net.createServer() instanceof net.Server}`);
const tlsLike = new (await import('node:tls')).TLSSocket(new net.Socket());
log.push(`a TLSSocket instanceof net.Socket ${tlsLike instanceof net.Socket}, instanceof net.Server ${(tlsLike as unknown) instanceof net.Server}`);
tlsLike.destroy();
// An agent of its own, no keep-alive: its connection closes after the response.
const agent = new http.Agent({ keepAlive: false });
const r3 = await request({ port, host: 'localhost', family: 4, path: '/c', agent });
log.push(`own agent ${r3.status} "${r3.text}"`);

// A second server on the same port: EADDRINUSE, as an 'error' event.
const clash = http.createServer();
clash.listen(port, '127.0.0.1');
const [e1] = await once(clash, 'error');
log.push(`clash: ${err(e1)}, listening ${clash.listening}`);
clash.close((e) => log.push(`clash close: ${e === undefined ? 'no error' : err(e)}`));
await once(clash, 'close');

// maxConnections before listening: with one connection held, the next is dropped.
const limited = http.createServer((_req, res) => res.end('ok'));
limited.maxConnections = 1;
log.push(`maxConnections set: ${limited.maxConnections}`);
limited.on('drop', (d: { localAddress?: string }) => log.push(`drop event, localAddress ${d?.localAddress}`));
limited.listen(0, '127.0.0.1');
await once(limited, 'listening');
const lport = (limited.address() as net.AddressInfo).port;
const held = net.connect(lport, '127.0.0.1');
await once(limited, 'connection');
const dropped = await request({ port: lport, host: '127.0.0.1', path: '/d', agent: false }).then(
  (r) => `answered ${r.status}`, (e: NodeJS.ErrnoException) => `refused: ${e.code}`);
log.push(`over the limit: ${dropped}`);
held.destroy();
limited.close();
await once(limited, 'close');

// The global fetch (Node's undici): a request, and one to a port nothing listens on.
const f = await fetch(`http://127.0.0.1:${port}/f`, { method: 'POST', body: 'by fetch' });
log.push(`fetch ${f.status} "${await f.text()}" family ${f.headers.get('x-remote-family')}`);
const refused = await fetch(`http://127.0.0.1:${lport}/nobody`).then((r) => `answered ${r.status}`,
  (e: Error & { cause?: NodeJS.ErrnoException }) => `${e.name}: ${e.message}; cause ${e.cause?.code} ${e.cause?.syscall}`);
log.push(`fetch to a closed port: ${refused}`);

// A Unix socket, through socketPath.
const onUnix = http.createServer((req, res) => res.end(`unix ${req.url}`));
onUnix.listen(unixPath);
await once(onUnix, 'listening');
log.push(`unix address is the path ${onUnix.address() === unixPath}`);
const r4 = await request({ socketPath: unixPath, path: '/u' });
log.push(`unix response ${r4.status} "${r4.text}"`);
// close() ends idle keep-alive connections (the agent's), and then the server closes.
onUnix.close((e) => log.push(`unix close callback ${e === undefined ? 'no error' : err(e)}`));
await once(onUnix, 'close');

// Three more idle keep-alive connections, each its agent's: close() ends every idle one (in an
// order a replay must find again).
for (let i = 0; i < 3; i++) {
  const r = await request({ port, host: '127.0.0.1', path: `/idle${i}`, agent: new http.Agent({ keepAlive: true }) });
  log.push(`idle ${i}: ${r.status}`);
}

// A request in flight when close() is called is answered; close waits for it.
const slow = request({ port, host: '127.0.0.1', path: '/slow', agent: false });
await arrived;
const closed = once(server, 'close');
server.close((e) => log.push(`close callback ${e === undefined ? 'no error' : err(e)}, listening ${server.listening}, address ${server.address()}`));
log.push(`after close(): listening ${server.listening}`);
const r5 = await slow;
log.push(`in flight: ${r5.status} "${r5.text}"`);
await closed;
const again = once(server, 'close');
server.close((e) => log.push(`second close: ${e === undefined ? 'no error' : err(e)}`));
await again;

// listen's `signal`: aborting it closes the server, as close() does (idle connections end too).
const ac = new AbortController();
const aborted = http.createServer((_req, res) => res.end('before abort'));
aborted.listen({ port: 0, host: '127.0.0.1', signal: ac.signal });
await once(aborted, 'listening');
const r6 = await request({ port: (aborted.address() as net.AddressInfo).port, host: '127.0.0.1', path: '/s' });
log.push(`signal: ${r6.status} "${r6.text}"`);
const abortClosed = once(aborted, 'close');
const abortedAt = performance.now();
ac.abort();
await abortClosed;
// The agent's idle keep-alive connection was ended by the close, not by the server's
// keepAliveTimeout (5 s) expiring it.
log.push(`aborted: listening ${aborted.listening}, closed well before the keep-alive timeout ${performance.now() - abortedAt < 2500}`);

// unref: a listening server that is unref'd does not keep the process alive.
const idle = http.createServer();
idle.listen(0, '127.0.0.1', () => log.push(`unref'd server listening ${idle.listening}`));
idle.unref();
