// Consumers: tls and https on a `net`. `tls.connect({ socket: net.connect(...) })` to a TLS server,
// a TLS/https server fed the lib's sockets through emit('connection'), half-close through TLS,
// 32 MiB each way; every case runs with node:net and with wasinet as the lib (consumers/util.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import tls from 'node:tls';
import https from 'node:https';
import type nodeNet from 'node:net';
import {
  both, feed, digest, patternChunks, patternSha, writeAll, tlsFixture, once, until, sleep, codeOf, trackCurrent,
  sha256, MiB, type Scope, type Digest,
} from './consumers/util.js';

const host = '127.0.0.1';
const SIZE = 32 * MiB;
const { key, cert } = tlsFixture;

/** Each side of a TLS socket sends `sendSeed`'s SIZE bytes and hashes what it gets, at once. */
function exchange(s: tls.TLSSocket, sendSeed: number): Promise<[Digest, void]> {
  return Promise.all([digest(s), writeAll(s, patternChunks(sendSeed, SIZE))]);
}

function tlsClient(sc: Scope, port: number, extra: tls.ConnectionOptions = {}): tls.TLSSocket {
  const raw = sc.net.connect({ port, host, allowHalfOpen: true });
  // allowHalfOpen is passed on to the TLSSocket by tls.connect (missing from @types/node's ConnectionOptions).
  return sc.track(tls.connect({ socket: raw, ca: cert, servername: 'localhost', allowHalfOpen: true, ...extra } as tls.ConnectionOptions));
}

both('tls.connect({ socket }) over a lib socket to a node:tls server: 32 MiB each way, sha256-verified', { timeout: 20000 }, async (sc) => {
  let serverGot: Promise<[Digest, void]> | null = null;
  const server = tls.createServer({ key, cert, allowHalfOpen: true }, (s) => { serverGot = exchange(s, 12); });
  const port = await sc.listen(server);
  const c = tlsClient(sc, port);
  await once(c, 'secureConnect');
  const info = { authorized: c.authorized, protocol: c.getProtocol(), alpn: c.alpnProtocol, cn: c.getPeerCertificate().subject.CN };
  const [clientGot] = await exchange(c, 11);
  await until(() => serverGot !== null, 2000, 'the server side');
  const [got] = await serverGot!;
  await once(c, 'close');
  return { info, serverGot: got, clientGot };
}, (r) => {
  assert.deepEqual(r.info, { authorized: true, protocol: 'TLSv1.3', alpn: false, cn: 'localhost' });
  assert.deepEqual(r.serverGot, { bytes: SIZE, sha: patternSha(11, SIZE) });
  assert.deepEqual(r.clientGot, { bytes: SIZE, sha: patternSha(12, SIZE) });
});

both("a tls server fed the lib's sockets (emit('connection')): 32 MiB each way with a node:tls client", { timeout: 20000 }, async (sc) => {
  let serverGot: Promise<[Digest, void]> | null = null;
  const server = tls.createServer({ key, cert, allowHalfOpen: true }, (s) => { serverGot = exchange(s, 14); });
  const port = await feed(sc, server, { allowHalfOpen: true });
  const c = trackCurrent(tls.connect({ port, host, ca: cert, servername: 'localhost', allowHalfOpen: true } as tls.ConnectionOptions));
  await once(c, 'secureConnect');
  const [clientGot] = await exchange(c, 13);
  await until(() => serverGot !== null, 2000, 'the server side');
  const [got] = await serverGot!;
  await once(c, 'close');
  return { authorized: c.authorized, serverGot: got, clientGot };
}, (r) => {
  assert.equal(r.authorized, true);
  assert.deepEqual(r.serverGot, { bytes: SIZE, sha: patternSha(13, SIZE) });
  assert.deepEqual(r.clientGot, { bytes: SIZE, sha: patternSha(14, SIZE) });
});

both('half-close through TLS (allowHalfOpen): the server answers after the client ended, on lib sockets both sides', { timeout: 10000 }, async (sc) => {
  const serverLog: string[] = [];
  const server = tls.createServer({ key, cert, allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => {
      serverLog.push(`end writable=${s.writable}`);
      setTimeout(() => { s.write('answer after your FIN: '); s.end(`${Buffer.concat(chunks).toString()}!`); }, 30);
    });
    s.on('finish', () => serverLog.push('finish'));
    s.on('close', () => serverLog.push('close'));
  });
  const port = await feed(sc, server, { allowHalfOpen: true });
  const c = tlsClient(sc, port);
  const clientLog: string[] = [];
  const got: Buffer[] = [];
  c.on('data', (d: Buffer) => got.push(d));
  c.on('finish', () => clientLog.push('finish'));
  c.on('end', () => clientLog.push(`end ${Buffer.concat(got).toString()}`));
  c.on('close', (hadError: boolean) => clientLog.push(`close ${hadError}`));
  await once(c, 'secureConnect');
  c.end('a question');
  await until(() => clientLog.some((l) => l.startsWith('close')) && serverLog.includes('close'), 5000, 'both sides closed');
  return { clientLog, serverLog };
}, (r) => {
  assert.deepEqual(r.clientLog, ['finish', 'end answer after your FIN: a question!', 'close false']);
  assert.deepEqual(r.serverLog, ['end writable=true', 'finish', 'close']);
});

both("https server fed the lib's sockets, https client on lib sockets through an Agent: keep-alive, 4 MiB each way", { timeout: 15000 }, async (sc) => {
  let connections = 0;
  const server = https.createServer({ key, cert }, (req, res) => {
    void digest(req).then((d) => {
      if (req.url === '/down') { res.setHeader('content-length', 4 * MiB); void writeAll(res, patternChunks(16, 4 * MiB)); }
      else res.end(`${req.method} ${req.url} ${d.bytes} ${d.sha}`);
    }, () => {});
  });
  server.on('secureConnection', () => { connections++; });
  const port = await feed(sc, server);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  sc.defer(() => agent.destroy());
  (agent as unknown as { createConnection: Function }).createConnection = (opts: nodeNet.NetConnectOpts, cb: () => void) =>
    tls.connect({ socket: sc.net.connect(port, host), ca: cert, servername: 'localhost' }, cb);
  const out: string[] = [];
  const plan: [string, string, Buffer[] | null][] = [
    ...Array.from({ length: 10 }, (_, i): [string, string, null] => ['GET', `/g${i}`, null]),
    ['POST', '/up', patternChunks(15, 4 * MiB)],
    ['GET', '/down', null],
  ];
  for (const [method, path, body] of plan) {
    const r = await new Promise<string>((resolve, reject) => {
      const req = https.request({ host, port, method, path, agent }, (res) => {
        void digest(res).then((d) => resolve(`${res.statusCode} ${req.reusedSocket} ${d.bytes} ${d.sha}`), reject);
      });
      req.on('error', reject);
      if (body) void writeAll(req, body).catch(reject); else req.end();
    });
    out.push(r);
  }
  return { out, connections };
}, (r) => {
  const line = (reused: boolean, text: string) => `200 ${reused} ${text.length} ${sha256(text)}`;
  assert.deepEqual(r.out, [
    ...Array.from({ length: 10 }, (_, i) => line(i > 0, `GET /g${i} 0 ${sha256('')}`)),
    line(true, `POST /up ${4 * MiB} ${patternSha(15, 4 * MiB)}`),
    `200 true ${4 * MiB} ${patternSha(16, 4 * MiB)}`,
  ]);
  assert.equal(r.connections, 1);
});

both('a TLS handshake that fails (no CA for the self-signed certificate): the same errors on both sides', { timeout: 10000 }, async (sc) => {
  const serverErrors: string[] = [];
  const server = tls.createServer({ key, cert }, () => serverErrors.push('secureConnection?!'));
  server.on('tlsClientError', (e: Error) => serverErrors.push(`tlsClientError ${codeOf(e)}`));
  const port = await feed(sc, server);
  const raw = sc.net.connect(port, host);
  const rawLog: string[] = [];
  raw.on('close', (hadError: boolean) => rawLog.push(`raw close ${hadError}`));
  const c = sc.track(tls.connect({ socket: raw, servername: 'localhost' }));
  const clientLog: string[] = [];
  c.on('secureConnect', () => clientLog.push('secureConnect?!'));
  c.on('error', (e) => clientLog.push(`error ${codeOf(e)}`));
  c.on('close', (hadError: boolean) => clientLog.push(`close ${hadError}`));
  await until(() => clientLog.some((l) => l.startsWith('close')) && serverErrors.length > 0 && rawLog.length > 0, 5000, 'both sides done');
  await sleep(20);
  return { clientLog, serverErrors, rawLog };
}, (r) => {
  assert.deepEqual(r.clientLog, ['error DEPTH_ZERO_SELF_SIGNED_CERT', 'close true']);
  assert.equal(r.serverErrors.length, 1);
  assert.match(r.serverErrors[0], /^tlsClientError (ECONNRESET|ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE)/);
});



both("tls.connect({ socket }) without servername checks the certificate against the host the lib socket looked up (socket._host)", { timeout: 10000 }, async (sc) => {
  const server = tls.createServer({ key, cert }, (s) => s.end('should not be trusted'));
  const port = await sc.listen(server);
  const out: Record<string, unknown> = {};
  for (const name of ['localhost', 'db.example.test']) {
    // A host name resolved by the socket's lookup (as one from DNS or /etc/hosts would be).
    const raw = sc.net.connect({
      port, host: name,
      lookup: ((_h: string, o: { all?: boolean }, cb: Function) =>
        (o.all ? cb(null, [{ address: host, family: 4 }]) : cb(null, host, 4))) as never,
    });
    const checked: string[] = [];
    const c = sc.track(tls.connect({
      socket: raw, ca: cert,
      checkServerIdentity: (h, crt) => { checked.push(h); return tls.checkServerIdentity(h, crt); },
    }));
    const outcome = await new Promise<string>((resolve) => {
      c.once('secureConnect', () => resolve('secureConnect'));
      c.once('error', (e) => resolve(`error ${codeOf(e)}`));
    });
    c.destroy();
    out[name] = { checked, outcome };
  }
  return out;
}, (r) => {
  assert.deepEqual(r, {
    localhost: { checked: ['localhost'], outcome: 'secureConnect' },
    'db.example.test': { checked: ['db.example.test'], outcome: 'error ERR_TLS_CERT_ALTNAME_INVALID' },
  });
});

// STARTTLS: a plain-text exchange first, read as text (setEncoding), then TLS over the same
// sockets: the client upgrades with tls.connect({ socket }), the lib's server with
// new tls.TLSSocket(socket, { isServer }). On node:net the TLS layer reads below the socket's
// stream, so the encoding does not matter and the plain socket's own 'data' listeners get no
// ciphertext; the same must hold on the lib's sockets.
both('STARTTLS on lib sockets read with setEncoding, both sides upgraded; the plain listeners see no ciphertext', { timeout: 10000 }, async (sc) => {
  const serverLog: string[] = [];
  const clientLog: string[] = [];
  const srv = sc.net.createServer((s) => {
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      serverLog.push(`plain ${JSON.stringify(d)}`);
      if (d !== 'STARTTLS\r\n') return;
      s.write('220 go ahead\r\n', () => {
        const t = new tls.TLSSocket(s, { isServer: true, key, cert });
        t.on('secure', () => serverLog.push('secure'));
        t.on('error', (e: Error) => serverLog.push(`error ${codeOf(e)}`));
        t.setEncoding('utf8');
        t.on('data', (x: string) => { serverLog.push(`tls ${x}`); t.end(`bye ${x}`); });
      });
    });
    s.write('220 hello\r\n');
  });
  const port = await sc.listen(srv);
  const c = sc.net.connect({ port, host });
  c.setEncoding('utf8');
  let tlsDone: Promise<unknown> | null = null;
  c.on('data', (d: string) => {
    clientLog.push(`plain ${typeof d === 'string' ? JSON.stringify(d) : `${(d as Buffer).length} bytes`}`);
    if (d === '220 hello\r\n') c.write('STARTTLS\r\n');
    else if (d === '220 go ahead\r\n') {
      const t = sc.track(tls.connect({ socket: c, ca: cert, servername: 'localhost' }));
      let answer = '';
      t.on('secureConnect', () => { clientLog.push(`secure ${t.authorized}`); t.write('ping'); });
      t.on('error', (e: Error) => clientLog.push(`error ${codeOf(e)}`));
      t.on('data', (x: Buffer) => { answer += x; });
      tlsDone = once(t, 'close').then(() => clientLog.push(`tls ${answer}`));
    }
  });
  await until(() => tlsDone !== null, 5000, 'the upgrade');
  await tlsDone;
  await until(() => serverLog.includes('tls ping'), 2000, 'the server side');
  return { clientLog, serverLog };
}, (r) => {
  assert.deepEqual(r.clientLog, ['plain "220 hello\\r\\n"', 'plain "220 go ahead\\r\\n"', 'secure true', 'tls bye ping']);
  assert.deepEqual(r.serverLog, ['plain "STARTTLS\\r\\n"', 'secure', 'tls ping']);
});

// tls.connect({ socket }) given a Socket that connects only afterwards: tls waits for its
// 'connect' before the handshake, on node:net's Socket as on the lib's.
both('tls.connect({ socket: new Socket() }) before socket.connect(): the handshake waits for the connection; a server that hangs up gives ECONNRESET', { timeout: 10000 }, async (sc) => {
  const server = tls.createServer({ key, cert }, (s) => { s.setEncoding('utf8'); s.on('data', (d: string) => s.end(d.toUpperCase())); });
  const port = await sc.listen(server);
  const raw = new sc.net.Socket();
  const t = sc.track(tls.connect({ socket: raw, ca: cert, servername: 'localhost' }));
  const log: string[] = [];
  t.on('secureConnect', () => { log.push(`secure ${t.authorized}`); t.write('hello'); });
  let answer = '';
  t.on('data', (d: Buffer) => { answer += d; });
  t.on('error', (e: Error) => log.push(`error ${codeOf(e)}`));
  raw.connect(port, host);
  await once(t, 'close');
  log.push(`answer ${answer}`);
  // A plain server that ends at once: the handshake meets EOF.
  const plain = sc.net.createServer((c) => c.end());
  const plainPort = await sc.listen(plain);
  const raw2 = new sc.net.Socket();
  const t2 = sc.track(tls.connect({ socket: raw2 }));
  const failed = once(t2, 'error');
  raw2.connect(plainPort, host);
  const [err] = await failed as [NodeJS.ErrnoException & { host?: string; port?: number }];
  log.push(`plain ${err.code} ${err.port} ${err.host} ${err.path}`);
  return log;
}, (log) => {
  assert.deepEqual(log, ['secure true', 'answer HELLO', 'plain ECONNRESET undefined undefined undefined']);
});

// A connect that fails under a wrapper: on node:net the socket keeps its handle until it
// connects, so its own 'error' listeners have a refused connect first, then the TLS socket (or
// the http2 session) that wraps it.
both('a lib socket whose connect is refused, under tls.connect({ socket }) and http2.connect({ createConnection }): its own error listeners have the error, then the wrapper', { timeout: 10000 }, async (sc) => {
  const { default: http2 } = await import('node:http2');
  const gone = sc.net.createServer();
  const port = await sc.listen(gone);
  await new Promise((r) => gone.close(r));
  const log: string[] = [];
  const plain = (name: string): nodeNet.Socket => {
    const raw = sc.net.connect(port, host);
    raw.on('error', (e) => log.push(`${name} plain error ${codeOf(e)}`));
    raw.on('close', (h) => log.push(`${name} plain close ${h}`));
    return raw;
  };
  const raw = plain('tls');
  const t = sc.track(tls.connect({ socket: raw, servername: 'localhost' }));
  t.on('error', (e) => log.push(`tls error ${codeOf(e)}`));
  const closed = (e: NodeJS.EventEmitter): Promise<unknown> => new Promise((r) => e.once('close', r));
  await Promise.all([closed(t), closed(raw)]);
  // The http2 session over lib sockets is wrapped in Node's JSStreamSocket: it learns of the
  // failure when the socket closes, so its events follow the socket's 'close' there (the
  // order is not compared: docs/replay.md).
  const h2: string[] = [];
  const raw2 = plain('h2');
  const session = http2.connect(`http://${host}:${port}`, { createConnection: () => raw2 });
  session.on('error', (e) => h2.push(`session error ${codeOf(e)}`));
  session.on('close', () => h2.push('session close'));
  await Promise.all([closed(session), closed(raw2)]);
  return [...log, ...h2.sort()];
}, (log) => {
  assert.deepEqual(log, [
    'tls plain error ECONNREFUSED', 'tls error ECONNREFUSED', 'tls plain close true',
    'h2 plain error ECONNREFUSED', 'h2 plain close true', 'session close', 'session error ECONNREFUSED',
  ]);
});

// STARTTLS as FTP libraries do it (explicit FTPS): the server (ftp-srv) keeps its parser on the
// plain socket and re-emits the TLS socket's plaintext there with emit('data'); the client
// (basic-ftp) takes every listener off the plain socket once upgraded, and checks that the TLS
// socket's localPort is the plain one's. On node:net tls reads below the socket, so neither
// touches the TLS layer; the TLS sockets' addresses are the TCP connection's.
both('STARTTLS the FTP way: plaintext re-emitted on the plain socket, every plain listener removed, the TLS sockets\' addresses', { timeout: 10000 }, async (sc) => {
  const serverLog: string[] = [];
  const clientLog: string[] = [];
  const addressesOf = (s: nodeNet.Socket) => ({ local: s.address(), localAddress: s.localAddress, localPort: s.localPort,
    remoteAddress: s.remoteAddress, remotePort: s.remotePort, remoteFamily: s.remoteFamily });
  const same: Record<string, boolean> = {};
  const srv = sc.net.createServer((s) => {
    let t: tls.TLSSocket | null = null;
    s.on('data', (d: Buffer) => { // the server's one parser, on the plain socket
      const line = String(d);
      serverLog.push(`${t ? 'tls' : 'plain'} ${JSON.stringify(line)}`);
      if (t === null && line === 'AUTH TLS\r\n') {
        s.write('234 go\r\n');
        t = new tls.TLSSocket(s, { isServer: true, key, cert });
        t.on('secure', () => { same.server = JSON.stringify(addressesOf(t!)) === JSON.stringify(addressesOf(s)); });
        t.on('data', (p: Buffer) => s.emit('data', p));
        t.on('error', (e: Error) => serverLog.push(`error ${codeOf(e)}`));
      } else if (t !== null) {
        t.end(`200 ok ${line}`);
      }
    });
    s.write('220 ready\r\n');
  });
  const port = await sc.listen(srv);
  const c = sc.net.connect({ port, host });
  let tlsDone: Promise<unknown> | null = null;
  c.on('data', (d: Buffer) => {
    const line = String(d);
    clientLog.push(`plain ${JSON.stringify(line)}`);
    if (line === '220 ready\r\n') c.write('AUTH TLS\r\n');
    else if (line === '234 go\r\n') {
      const t = sc.track(tls.connect({ socket: c, ca: cert, servername: 'localhost' }, () => {
        same.client = t.localPort === c.localPort && JSON.stringify(addressesOf(t)) === JSON.stringify(addressesOf(c));
        c.removeAllListeners(); // the plain socket is done with
        t.write('USER a\r\n');
      }));
      let answer = '';
      t.on('data', (x: Buffer) => { answer += x; });
      t.on('error', (e: Error) => clientLog.push(`error ${codeOf(e)}`));
      tlsDone = once(t, 'close').then(() => clientLog.push(`tls ${JSON.stringify(answer)}`));
    }
  });
  await until(() => tlsDone !== null, 5000, 'the upgrade');
  await tlsDone;
  return { clientLog, serverLog, same, plainListeners: c.listenerCount('data') + c.listenerCount('close') };
}, (r) => {
  assert.deepEqual(r.clientLog, ['plain "220 ready\\r\\n"', 'plain "234 go\\r\\n"', 'tls "200 ok USER a\\r\\n"']);
  assert.deepEqual(r.serverLog, ['plain "AUTH TLS\\r\\n"', 'tls "USER a\\r\\n"']);
  assert.deepEqual(r.same, { client: true, server: true });
  assert.equal(r.plainListeners, 0);
});

// unref() on a TLS socket unrefs the connection under it (node:net: the TCP handle), so a
// process with nothing else to do exits; on the lib's socket the same.
test('unref() on a TLS socket over a lib socket lets the process exit, as over node:net', { timeout: 30000 }, () => {
  const script = (lib: string) => `
    import tls from 'node:tls'; import nodeNet from 'node:net';
    const lib = ${lib === 'node:net' ? 'nodeNet' : `(await import(${JSON.stringify(new URL('../../host/index.js', import.meta.url).href)})).default`};
    const key = ${JSON.stringify(String(key))}, cert = ${JSON.stringify(String(cert))};
    const server = tls.createServer({ key, cert }, (s) => { s.unref(); server.unref(); });
    server.listen(0, '127.0.0.1', () => {
      const raw = lib.connect(server.address().port, '127.0.0.1');
      const t = tls.connect({ socket: raw, ca: cert, servername: 'localhost' }, () => { t.unref(); console.log('secure'); });
    });
    process.on('exit', () => console.log('exited'));`;
  for (const lib of ['node:net', 'wasinet']) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(lib)], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.stdout, 'secure\nexited\n', `${lib}: ${r.signal ?? ''} ${r.stderr}`);
    assert.equal(r.status, 0, lib);
  }
});

// Bytes the plain socket already holds when tls wraps it (here the ClientHello, put back with
// unshift): tls takes them from the stream itself and the handshake goes on, on both.
both('new tls.TLSSocket(socket) over a socket that already holds the ClientHello: the handshake completes', { timeout: 10000 }, async (sc) => {
  const log: string[] = [];
  const srv = sc.net.createServer((s) => {
    s.once('data', (d: Buffer) => {
      s.pause();
      s.unshift(d);
      log.push(`held ${s.readableLength > 0}`);
      setTimeout(() => {
        const t = new tls.TLSSocket(s, { isServer: true, key, cert });
        t.on('secure', () => log.push('server secure'));
        t.on('data', (x: Buffer) => { log.push(`server got ${x}`); t.end('bye'); });
        t.on('error', (e: Error) => log.push(`server error ${codeOf(e)}`));
      }, 50);
    });
  });
  const port = await sc.listen(srv);
  const raw = sc.net.connect({ port, host });
  await once(raw, 'connect');
  const t = sc.track(tls.connect({ socket: raw, ca: cert, servername: 'localhost' }, () => t.write('hi')));
  let answer = '';
  t.on('data', (x: Buffer) => { answer += x; });
  t.on('error', (e: Error) => log.push(`client error ${codeOf(e)}`));
  await once(t, 'close');
  log.push(`client got ${answer}`);
  return log;
}, (log) => {
  assert.deepEqual(log, ['held true', 'server secure', 'server got hi', 'client got bye']);
});
