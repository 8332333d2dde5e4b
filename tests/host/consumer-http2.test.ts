// Consumers: http2 on a `net`. http2.createServer / createSecureServer fed the lib's sockets through
// emit('connection'); http2.connect with createConnection returning a lib socket (or a TLS socket
// over one). Every case runs with node:net and with wasinet as the lib (consumers/util.ts).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import tls from 'node:tls';
import {
  both, feed, digest, patternChunks, patternSha, writeAll, tlsFixture, once, until, sleep,
  sha256, MiB, type Scope, type Sock, type Digest,
} from './consumers/util.js';

const host = '127.0.0.1';
const BIG = 16 * MiB;

/** The server used by the cases: /up hashes the body, /down sends BIG bytes, others echo small. */
function onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const path = String(headers[':path']);
  stream.on('error', () => {});
  void digest(stream).then((d) => {
    if (stream.destroyed) return;
    if (path === '/down') {
      stream.respond({ ':status': 200, 'content-length': BIG });
      void writeAll(stream, patternChunks(22, BIG)).catch(() => {});
    } else {
      stream.respond({ ':status': 200, 'x-path': path });
      stream.end(`${headers[':method']} ${path} ${d.bytes} ${d.sha}`);
    }
  }, () => {});
}

/** One request on a session: status and the response body's digest. */
function request(session: http2.ClientHttp2Session, method: string, path: string, body: Buffer[] | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': method, ':path': path }, { endStream: body === null });
    req.on('error', reject);
    let status = 0;
    req.on('response', (h) => { status = Number(h[':status']); });
    void digest(req).then((d: Digest) => resolve(`${path} ${status} ${d.bytes} ${d.sha}`), reject);
    if (body) void writeAll(req, body).catch(reject);
  });
}

/** 20 small GETs, a BIG POST and a BIG GET, all at once on one session. */
async function manyStreams(session: http2.ClientHttp2Session): Promise<string[]> {
  const all = await Promise.all([
    ...Array.from({ length: 20 }, (_, i) => request(session, 'GET', `/s${i}`, null)),
    request(session, 'POST', '/up', patternChunks(21, BIG)),
    request(session, 'GET', '/down', null),
  ]);
  return all;
}

function expectedStreams(): string[] {
  const small = (method: string, path: string, bytes: number, sha: string) => {
    const text = `${method} ${path} ${bytes} ${sha}`;
    return `${path} 200 ${text.length} ${sha256(text)}`;
  };
  return [
    ...Array.from({ length: 20 }, (_, i) => small('GET', `/s${i}`, 0, sha256(''))),
    small('POST', '/up', BIG, patternSha(21, BIG)),
    `/down 200 ${BIG} ${patternSha(22, BIG)}`,
  ];
}

async function closeSession(sc: Scope, session: http2.ClientHttp2Session, serverSessions: http2.ServerHttp2Session[]) {
  session.close();
  await once(session, 'close');
  await until(() => serverSessions.every((s) => s.closed || s.destroyed), 3000, 'the server session closed');
}

both("h2c: http2.createServer fed the lib's sockets, http2.connect over a lib socket: 22 concurrent streams, 16 MiB each way", { timeout: 20000 }, async (sc) => {
  const server = http2.createServer();
  server.on('stream', onStream);
  const serverSessions: http2.ServerHttp2Session[] = [];
  server.on('session', (s) => serverSessions.push(s));
  let serverSock: Sock | null = null;
  server.on('connection', (s: Sock) => { serverSock = s; });
  const port = await feed(sc, server);
  let clientSock: Sock | null = null;
  const session = sc.track(http2.connect(`http://localhost:${port}`, {
    createConnection: () => (clientSock = sc.net.connect(port, host)),
  }));
  session.on('error', () => {});
  const streams = await manyStreams(session);
  await closeSession(sc, session, serverSessions);
  // The lib's sockets carried the bytes: each counted at least the BIG body it passed each way.
  const c = clientSock as unknown as Sock;
  const s = serverSock as unknown as Sock;
  const counters = {
    client: { read: c.bytesRead >= BIG, written: c.bytesWritten >= BIG },
    server: { read: s.bytesRead >= BIG, written: s.bytesWritten >= BIG },
  };
  return { streams, sessions: serverSessions.length, counters };
}, (r) => {
  assert.deepEqual(r.streams, expectedStreams());
  assert.equal(r.sessions, 1);
  assert.deepEqual(r.counters, { client: { read: true, written: true }, server: { read: true, written: true } });
});

both("h2 over TLS: http2.createSecureServer fed the lib's sockets, client tls.connect({ socket }) with ALPN h2: 22 streams, 16 MiB each way", { timeout: 20000 }, async (sc) => {
  const { key, cert } = tlsFixture;
  const server = http2.createSecureServer({ key, cert });
  server.on('stream', onStream);
  const serverSessions: http2.ServerHttp2Session[] = [];
  server.on('session', (s) => serverSessions.push(s));
  const port = await feed(sc, server);
  const session = sc.track(http2.connect(`https://localhost:${port}`, {
    createConnection: () => tls.connect({ socket: sc.net.connect(port, host), ALPNProtocols: ['h2'], ca: cert, servername: 'localhost' }),
  }));
  session.on('error', () => {});
  await once(session, 'connect');
  const alpn = session.alpnProtocol;
  const streams = await manyStreams(session);
  await closeSession(sc, session, serverSessions);
  return { alpn, streams, sessions: serverSessions.length };
}, (r) => {
  assert.deepEqual(r, { alpn: 'h2', streams: expectedStreams(), sessions: 1 });
});

both('h2c on lib sockets: a stream cancelled mid-upload (RST_STREAM CANCEL) and the session still serves others', { timeout: 10000 }, async (sc) => {
  const server = http2.createServer();
  const serverLog: string[] = [];
  let received = 0;
  server.on('stream', (stream, headers) => {
    if (headers[':path'] !== '/cancel') { onStream(stream, headers); return; }
    stream.on('data', (d: Buffer) => { received += d.length; });
    stream.on('aborted', () => serverLog.push('aborted'));
    stream.on('error', (e) => serverLog.push(`error ${(e as NodeJS.ErrnoException).code}`));
    stream.on('close', () => serverLog.push(`close rstCode=${stream.rstCode}`));
  });
  const port = await feed(sc, server);
  const session = sc.track(http2.connect(`http://localhost:${port}`, { createConnection: () => sc.net.connect(port, host) }));
  session.on('error', () => {});
  const req = session.request({ ':method': 'POST', ':path': '/cancel' }, { endStream: false });
  const clientLog: string[] = [];
  req.on('error', (e) => clientLog.push(`error ${(e as NodeJS.ErrnoException).code}`));
  req.on('close', () => clientLog.push(`close rstCode=${req.rstCode}`));
  req.write(Buffer.alloc(20000, 1));
  await until(() => received === 20000, 5000, 'the server got 20000 bytes');
  req.close(http2.constants.NGHTTP2_CANCEL);
  await until(() => serverLog.some((l) => l.startsWith('close')) && clientLog.length > 0, 5000, 'the stream closed both sides');
  const after = await request(session, 'GET', '/after', null);
  session.close();
  await once(session, 'close');
  await sleep(10);
  return { received, serverLog, clientLog, after };
}, (r) => {
  const text = `GET /after 0 ${sha256('')}`;
  assert.deepEqual(r, {
    received: 20000, serverLog: ['aborted', 'close rstCode=8'], clientLog: ['close rstCode=8'],
    after: `/after 200 ${text.length} ${sha256(text)}`,
  });
});
