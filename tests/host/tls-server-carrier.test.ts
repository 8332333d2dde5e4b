// TLS servers with their sessions below the core (stack.tlsServe, and under the register hook
// while recording: host/register/http.ts, host/net/tls.ts acceptTls, host/backend/node-tls.ts):
// the same server program, once on node:net and once served by a stack, logs the same events,
// errors and session state for the same clients (node:tls's, real); recorded, it replays offline
// (no client) with the same log, and the trace holds the plaintext.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import https from 'node:https';
import http2 from 'node:http2';
import nodeNet from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createStack, formatAppDivergence, readTrace, timelineHtml, type MetaRecord, type StackApi } from '../../host/index.js';
import { sockPath, listenOn, portOf, bothWays } from './helpers.js';

const root = join(import.meta.dirname, '..', '..', '..');
const key = readFileSync(join(root, 'tests/fixtures/localhost-key.pem'));
const cert = readFileSync(join(root, 'tests/fixtures/localhost-cert.pem'));

/** How a case's server is made to listen: node:net's own, or served by a stack. */
type Serve = <T extends tls.Server>(server: T) => T;

function errorOf(e: NodeJS.ErrnoException & Record<string, unknown>): string {
  const props = Object.keys(e).filter((k) => k !== 'cert').sort().map((k) => `${k}=${JSON.stringify(e[k])}`);
  // OpenSSL's messages name the address of its error state: the same error, another number.
  const message = e.message.replace(/^[0-9A-F]{8,}:/, 'N:');
  return `${e.constructor.name} ${e.code} ${message} [${props.join(' ').replace(/[0-9A-F]{8,}:error/g, 'N:error')}]`;
}

/** What a server-side TLS socket tells its program once secure. */
function stateOf(s: tls.TLSSocket, server: tls.Server): string[] {
  const peer = s.getPeerCertificate(true) as tls.DetailedPeerCertificate;
  return [
    `encrypted=${s.encrypted} authorized=${s.authorized} authorizationError=${s.authorizationError} alpn=${s.alpnProtocol} servername=${(s as { servername?: unknown }).servername}`,
    `protocol=${s.getProtocol()} cipher=${JSON.stringify(s.getCipher())} reused=${s.isSessionReused()} session=${typeof s.getSession()}`,
    `own=${(s.getCertificate() as tls.PeerCertificate | null)?.subject?.CN} finished=${s.getFinished()?.length} peerFinished=${s.getPeerFinished()?.length}`,
    `peer=${peer.subject?.CN} raw=${peer.raw ? createHash('sha256').update(peer.raw).digest('hex') : 'none'}`,
    `remote=${s.remoteAddress === undefined ? 'undefined' : 'named'}/${s.remoteFamily} local=${s.localAddress === undefined ? 'undefined' : 'named'} server=${(s as { server?: unknown }).server === server}`,
  ];
}

/** A TLS echo server whose every event goes into `log`; ends each connection after the client's. */
function loggingServer(log: string[], options: tls.TlsOptions): tls.Server {
  const server = tls.createServer({ key, cert, ...options }, (s) => {
    log.push('secureConnection', ...stateOf(s, server));
    s.on('data', (d) => { log.push(`data ${d}`); s.write(`echo:${d}`); });
    s.on('end', () => { log.push('end'); s.end('bye'); });
    s.on('error', (e: NodeJS.ErrnoException & Record<string, unknown>) => log.push(`socket error ${errorOf(e)}`));
    s.on('close', (hadError) => log.push(`close ${hadError}`));
  });
  server.on('tlsClientError', (e: NodeJS.ErrnoException & Record<string, unknown>, s: tls.TLSSocket) => {
    log.push(`tlsClientError ${errorOf(e)} socket=${s.constructor.name === 'TLSSocket'} encrypted=${s.encrypted}`);
  });
  return server;
}

const listen = listenOn;
const closed = (server: nodeNet.Server): Promise<unknown> => new Promise((r) => server.close(r));
const settle = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A node:tls client: writes `send` once secure and ends; resolves at its 'close' with what it saw. */
function client(options: tls.ConnectionOptions, send = 'hello'): Promise<string> {
  return new Promise((resolve) => {
    const seen: string[] = [];
    const c = tls.connect(options, () => { seen.push(`secure ${c.authorized} ${c.alpnProtocol}`); c.end(send); });
    c.on('data', (d) => seen.push(`data ${d}`));
    c.on('error', (e: NodeJS.ErrnoException) => seen.push(`error ${e.code}`));
    c.on('close', () => resolve(seen.join(', ')));
  });
}

/** A plain TCP client that sends `bytes` (or nothing), then closes after `ms`. */
function rawClient(port: number | string, bytes: string | null, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const c = typeof port === 'string' ? nodeNet.connect(port) : nodeNet.connect(port, '127.0.0.1');
    c.on('connect', () => { if (bytes !== null) c.write(bytes); setTimeout(() => c.destroy(), ms); });
    c.on('error', () => {});
    c.on('close', () => resolve('raw closed'));
  });
}

interface Case { name: string; server: tls.TlsOptions; run: (where: number | string) => Promise<string>; path?: boolean; addContext?: boolean }

const CASES: Case[] = [
  { name: 'trusted, with ALPN', server: { ALPNProtocols: ['x', 'echo'] },
    run: (port) => client({ port: port as number, host: 'localhost', ca: cert, ALPNProtocols: ['echo'] }) },
  { name: 'an IP address (no SNI)', server: {},
    run: (port) => client({ port: port as number, host: '127.0.0.1', ca: cert, servername: '' as string }) },
  { name: 'no ALPN protocol in common', server: { ALPNProtocols: ['x'] },
    run: (port) => client({ port: port as number, host: 'localhost', ca: cert, ALPNProtocols: ['echo'] }) },
  { name: 'a client certificate asked for, none given, not required', server: { requestCert: true, rejectUnauthorized: false },
    run: (port) => client({ port: port as number, host: 'localhost', ca: cert }) },
  { name: 'a client certificate required, none given', server: { requestCert: true, rejectUnauthorized: true },
    run: (port) => client({ port: port as number, host: 'localhost', ca: cert }) },
  { name: 'a client certificate required and trusted', server: { requestCert: true, rejectUnauthorized: true, ca: cert },
    run: (port) => client({ port: port as number, host: 'localhost', ca: cert, key, cert }) },
  { name: 'a client that does not trust the server', server: {},
    run: (port) => client({ port: port as number, host: 'localhost' }) },
  { name: 'plaintext HTTP to a TLS server', server: {},
    run: (port) => rawClient(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 100) },
  { name: 'a client that closes before the handshake', server: {},
    run: (port) => rawClient(port, null, 10) },
  { name: 'an SNI context of the server', server: {}, addContext: true,
    run: (port) => client({ port: port as number, host: '127.0.0.1', servername: 'alt.test', ca: cert, checkServerIdentity: () => undefined }) },
  { name: 'a Unix socket', server: {}, path: true,
    run: (path) => client({ path: path as string, ca: cert, servername: 'localhost' }) },
];

/** Each case on a fresh server made to listen by `serve`: the server's log and the client's. */
async function cases(serve: Serve, where?: Record<string, number | string>): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const used: Record<string, number | string> = {};
  for (const c of CASES) {
    const log: string[] = [];
    const server = serve(loggingServer(log, c.server));
    if (c.addContext) server.addContext('alt.test', { key, cert });
    await listen(server, where?.[c.name] ?? (c.path ? sockPath('tls-server') : 0));
    used[c.name] = c.path ? server.address() as string : portOf(server);
    const seen = await c.run(used[c.name]);
    await settle();
    await closed(server);
    out[c.name] = [...log, `client: ${seen}`];
  }
  if (where === undefined) Object.defineProperty(out, 'where', { value: used });
  return out;
}

test('tlsServe: every case logs what node:tls\'s server logs (events, errors, the session state)', { timeout: 30000 }, async () => {
  const net = createStack();
  const node = await cases((s) => s);
  const ours = await cases((s) => net.tlsServe(s));
  for (const name of Object.keys(node)) assert.deepEqual(ours[name], node[name], name);
  // The cases do what they say.
  assert.match(node['trusted, with ALPN'].join('\n'), /alpn=echo[^]*data hello[^]*client: secure true echo, data echo:hello/);
  assert.match(node['no ALPN protocol in common'].join('\n'), /tlsClientError Error ERR_SSL_NO_APPLICATION_PROTOCOL/);
  assert.match(node['a client certificate asked for, none given, not required'].join('\n'), /authorized=false authorizationError=UNABLE_TO_GET_ISSUER_CERT/);
  assert.match(node['a client certificate required, none given'].join('\n'), /tlsClientError Error ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE/);
  assert.match(node['a client certificate required and trusted'].join('\n'), /authorized=true[^]*peer=localhost/);
  assert.match(node['plaintext HTTP to a TLS server'].join('\n'), /tlsClientError Error ERR_SSL_HTTP_REQUEST/);
  assert.match(node['a client that closes before the handshake'].join('\n'), /tlsClientError Error ECONNRESET socket hang up/);
  assert.match(node['an SNI context of the server'].join('\n'), /servername=alt.test/);
  assert.match(node['a Unix socket'].join('\n'), /client: secure true false, data echo:hello/);
});

test('tlsServe: the server and its sockets are the stack\'s; bad input throws', async () => {
  const net = createStack();
  let thrown: unknown = null;
  try { net.tlsServe(nodeNet.createServer() as never); } catch (e) { thrown = e; }
  assert.ok(thrown instanceof TypeError);
  assert.equal((thrown as NodeJS.ErrnoException).code, 'ERR_INVALID_ARG_VALUE');
  assert.match(String(thrown), /The argument 'server' is not a tls.Server/);
  const server = net.tlsServe(tls.createServer({ key, cert }));
  let socket: tls.TLSSocket | null = null;
  let plain: nodeNet.Socket | null = null;
  server.on('connection', (s) => { plain = s; });
  server.on('secureConnection', (s) => { socket = s; s.end(); });
  await listen(server);
  assert.equal(server.listening, true);
  assert.equal((server.address() as nodeNet.AddressInfo).address, '127.0.0.1');
  const seen = await client({ port: portOf(server), host: 'localhost', ca: cert });
  assert.equal(seen, 'secure true false');
  assert.ok(socket !== null && (socket as tls.TLSSocket) instanceof net.Socket, 'secureConnection gives a socket of the stack');
  assert.ok(plain !== null && (plain as nodeNet.Socket) instanceof net.Socket, 'connection gives the stack\'s plain socket');
  await new Promise<void>((resolve) => server.getConnections((err, n) => { assert.equal(err, null); assert.equal(n, 0); resolve(); }));
  await closed(server);
  assert.equal(server.listening, false);
  await new Promise<void>((resolve) => server.close((err) => { assert.equal((err as NodeJS.ErrnoException).code, 'ERR_SERVER_NOT_RUNNING'); resolve(); }));
});

test('tlsServe: 4 MiB each way through the core, in order, with a slow reader on the server', { timeout: 30000 }, async () => {
  const net = createStack();
  const r = await bothWays((handler) => net.tlsServe(tls.createServer({ key, cert, allowHalfOpen: true }, handler)),
    (port) => tls.connect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' }));
  assert.ok(r.serverGot !== null && r.serverGot.equals(r.up), 'the server got every byte, in order');
  assert.ok(r.clientGot.equals(r.down), 'the client got every byte, in order');
});

/** An https server and an http2 secure server (with HTTP/1.1 fallback), and node's clients of them. */
async function web(serve: Serve, replaying = false): Promise<{ log: string[]; ports: number[] }> {
  const log: string[] = [];
  const h1 = serve(https.createServer({ key, cert }, (req, res) => {
    log.push(`https ${req.method} ${req.url} encrypted=${(req.socket as tls.TLSSocket).encrypted} alpn=${(req.socket as tls.TLSSocket).alpnProtocol}`);
    req.on('data', (d) => log.push(`https body ${d}`));
    req.on('end', () => res.end(`hi ${req.url}`));
  }));
  const h2 = serve(http2.createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => {
    log.push(`h2 ${req.httpVersion} ${req.method} ${req.url} alpn=${(req.socket as tls.TLSSocket).alpnProtocol}`);
    res.end(`h2 hi ${req.url}`);
  }));
  await listen(h1);
  await listen(h2);
  const used = [portOf(h1), portOf(h2)];
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (port: number, path: string, method = 'GET', body?: string): Promise<string> => new Promise((resolve, reject) => {
    const req = https.request({ port, host: '127.0.0.1', servername: 'localhost', ca: cert, path, method, agent }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve(`${res.statusCode} ${text}`));
    });
    req.on('error', reject);
    req.end(body);
  });
  if (!replaying) {
    // The clients: node's own, not recorded (in a replay there are none).
    log.push(`client ${await get(used[0], '/a')}`, `client ${await get(used[0], '/b', 'POST', 'a body')}`);
    log.push(`client ${await get(used[1], '/over-http1')}`);
    const session = http2.connect(`https://localhost:${used[1]}`, { ca: cert });
    for (const path of ['/one', '/two']) {
      log.push(`client ${await new Promise<string>((resolve) => {
        const s = session.request({ ':path': path });
        let text = '';
        s.on('response', (h) => { text += `${h[':status']} `; });
        s.on('data', (d) => { text += d; });
        s.on('end', () => resolve(text));
      })}`);
    }
    await new Promise<void>((r) => session.close(() => r()));
    agent.destroy();
  }
  await settle(50);
  await Promise.all([closed(h1), closed(h2)]);
  return { log, ports: used };
}

test('tlsServe: an https server and an http2 secure server answer node\'s clients as on node:net', { timeout: 30000 }, async () => {
  const net = createStack();
  const node = await web((s) => s);
  const ours = await web((s) => net.tlsServe(s));
  assert.deepEqual(ours.log, node.log);
  assert.match(node.log.join('\n'), /https GET \/a encrypted=true[^]*client 200 hi \/b[^]*h2 1.1 GET \/over-http1 alpn=false[^]*h2 2.0 GET \/one alpn=h2[^]*client 200 h2 hi \/two/);
});

test('tlsServe: recorded, the servers replay offline (no client) with the same log; the trace holds the plaintext', { timeout: 60000 }, async () => {
  const file = sockPath('tls-server').replace(/\.sock$/, '.trace');
  const rec = createStack({ record: file });
  const real = await cases((s) => rec.tlsServe(s));
  const where = (real as unknown as { where: Record<string, number | string> }).where;
  const realWeb = await web((s) => rec.tlsServe(s));
  await rec.recorder!.close();
  const trace = readFileSync(file);
  for (const text of ['hello', 'echo:hello', 'GET /a', 'a body', 'hi /b', 'h2 hi /two']) {
    assert.ok(trace.includes(Buffer.from(text)), `the trace has the plaintext "${text}"`);
  }
  const states = readTrace(file).records.filter((r): r is MetaRecord => r.kind === 'meta' && r.type === 'tls');
  assert.ok(states.some((r) => (r.data.state as { error?: unknown }).error !== undefined), 'failed handshakes are in the trace');
  // The timeline: a lane per session, named for the connection it took over, with its state.
  const page = timelineHtml(file);
  assert.match(page, /"label":"TLS session h=\d+ over h=\d+"/);
  assert.match(page, /tls h=\d+ secure: TLSv1\.3 TLS_AES_256_GCM_SHA384, ALPN echo"/);
  assert.match(page, /tls h=\d+ secure: [^"]*peer CN=localhost \(issuer CN=localhost\), authorized/);
  assert.match(page, /tls h=\d+ error: ERR_SSL_HTTP_REQUEST/);
  assert.match(page, /tls h=\d+ error: ECONNRESET socket hang up/);
  for (let round = 0; round < 2; round++) {
    const net = createStack({ replay: { path: file, wait: 1000, onDivergence: (d) => assert.fail(formatAppDivergence(d)) } });
    const replayed = await replayedCases(net, where);
    const replayedWeb = await web((s) => net.tlsServe(s), true);
    const done = await net.replay!.done;
    for (const name of Object.keys(real)) assert.deepEqual(replayed[name], real[name].filter((l) => !l.startsWith('client: ')), name);
    assert.deepEqual(replayedWeb.log.filter((l) => !l.startsWith('client ')), realWeb.log.filter((l) => !l.startsWith('client ')));
    assert.deepEqual([done.ok, done.inputs], [true, done.total]);
  }
  rmSync(file, { force: true });
});

/** The cases' servers in a replay: each listens where it did and waits for its recorded connection to end. */
async function replayedCases(net: StackApi, where: Record<string, number | string>): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const c of CASES) {
    const log: string[] = [];
    const server = net.tlsServe(loggingServer(log, c.server));
    if (c.addContext) server.addContext('alt.test', { key, cert });
    await listen(server, c.path ? where[c.name] : 0);
    // No client: the recorded connection arrives from the trace; the case is over when the
    // server's log has what ends it.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (log.some((l) => l.startsWith('close ') || l.startsWith('tlsClientError'))) { clearInterval(check); resolve(); }
      }, 5);
    });
    await settle();
    await closed(server);
    out[c.name] = log;
  }
  return out;
}

test('--import wasinet/register: an unmodified program\'s tls, https, http2 secure and plain http2 servers, and a STARTTLS server, are recorded and replay offline, with no client', { timeout: 90000 }, async () => {
  const { spawn, spawnSync } = await import('node:child_process');
  const apps = join(root, 'build/tests/host/apps');
  const env: NodeJS.ProcessEnv = { ...process.env, TLS_CA: join(root, 'tests/fixtures/localhost-cert.pem'), TLS_KEY: join(root, 'tests/fixtures/localhost-key.pem'), EXPECTED: '12' };
  delete env.WASINET_RECORD;
  delete env.WASINET_REPLAY;
  delete env.WASINET_TLS;
  /** Runs the server program with `args` and `more`, and its clients from another process. */
  const served = async (args: string[], more: Record<string, string> = {}): Promise<{ out: string; err: string; clients: string }> => {
    const app = spawn(process.execPath, [...args, join(apps, 'tls-servers-app.js')], { cwd: root, env: { ...env, ...more }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    app.stderr.on('data', (d) => { err += d; });
    const ports = await new Promise<string[]>((resolve, reject) => {
      app.stdout.on('data', (d) => {
        out += d;
        const m = /^PORTS (\d+) (\d+) (\d+) (\d+) (\d+)$/m.exec(out);
        if (m) resolve(m.slice(1));
      });
      app.on('exit', (code) => reject(new Error(`the server program exited (${code}) before it listened: ${out}\n${err}`)));
    });
    const clients = spawnSync(process.execPath, [join(apps, 'tls-servers-clients.js')], { env: { ...env, TLS_PORT: ports[0], HTTPS_PORT: ports[1], H2_PORT: ports[2], H2C_PORT: ports[3], STARTTLS_PORT: ports[4] }, encoding: 'utf8', timeout: 30000 });
    const code = await new Promise<number | null>((resolve) => { if (app.exitCode !== null) resolve(app.exitCode); else app.on('exit', resolve); });
    assert.equal(code, 0, `${args.join(' ')} ${JSON.stringify(more)}: ${out}\n${err}`);
    return { out, err, clients: clients.stdout };
  };
  const file = sockPath('tls-servers').replace(/\.sock$/, '.trace');
  const plain = await served([]);
  const hooked = await served(['--import', 'wasinet/register']);
  const recorded = await served(['--import', 'wasinet/register'], { WASINET_RECORD: file });
  const lines = plain.out.replace(/^PORTS .*\n/m, '');
  assert.match(lines, /echo secure authorized=true null alpn=echo sni=false peer=localhost protocol=TLSv1\.3\necho instanceof tls.TLSSocket=true net.Socket=true encrypted=true\necho data ping/);
  assert.match(lines, /echo secure authorized=false UNABLE_TO_GET_ISSUER_CERT/);
  assert.match(lines, /echo tlsClientError ECONNRESET\necho tlsClientError ERR_SSL_HTTP_REQUEST/);
  assert.match(lines, /https GET \/a \nhttps POST \/b a body\nh2 1\.1 GET \/over-http1\nh2 2\.0 GET \/one\nh2 2\.0 GET \/two\nh2c 2\.0 GET \/clear/);
  assert.match(lines, /closed Http2SecureServer[^]*closed Http2Server/);
  assert.match(plain.clients, /echo got echo:ping\necho got echo:ping\necho error DEPTH_ZERO_SELF_SIGNED_CERT\nplaintext closed\n\/a 200 yes hi \/a\n\/b 200 yes hi \/b\n\/over-http1 200\n\/one h2 hi \/one\n\/two h2 hi \/two\n\/clear h2c hi \/clear\nstarttls got echo:over tls\nstarttls gone\nstarttls plaintext closed\nstarttls error DEPTH_ZERO_SELF_SIGNED_CERT/);
  assert.match(lines, /starttls 0 instanceof tls.TLSSocket=true net.Socket=true encrypted=true\nstarttls 0 secure\nstarttls 0 secure protocol=TLSv1\.3 servername=localhost\nstarttls 0 data over tls/);
  assert.match(lines, /starttls 1 end\nstarttls 1 finish\nstarttls 1 close/);
  assert.match(lines, /starttls 2 _tlsError ERR_SSL_HTTP_REQUEST\nstarttls 2 error ERR_SSL_HTTP_REQUEST\nstarttls 2 close/);
  for (const run of [hooked, recorded]) {
    assert.equal(run.out.replace(/^PORTS .*\n/m, ''), lines);
    assert.equal(run.clients, plain.clients);
  }
  // Under the hook a server's sessions run below the core only when the process records or replays.
  assert.doesNotMatch(plain.err + hooked.err, /below wasinet's core: true/);
  assert.match(recorded.err, /server session below wasinet's core: true/);
  const trace = readFileSync(file);
  for (const text of ['echo:ping', 'GET /a', 'a body', 'hi /b', 'GET /over-http1', 'h2 hi /two', 'h2c hi /clear', 'echo:over tls']) {
    assert.ok(trace.includes(Buffer.from(text)), `the trace has the plaintext "${text}"`);
  }
  // No client now: the replay runs offline, on the recorded ports.
  for (let i = 0; i < 2; i++) {
    const again = spawnSync(process.execPath, ['--import', 'wasinet/register', join(apps, 'tls-servers-app.js')], { cwd: root, env: { ...env, WASINET_REPLAY: file }, encoding: 'utf8', timeout: 30000 });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, recorded.out);
    assert.match(again.stderr, /wasinet replay: the application followed the recording/);
    assert.match(again.stderr, /server session below wasinet's core: true/);
  }
  const core = spawnSync(process.execPath, [join(root, 'bin/wasinet.js'), 'replay', file], { encoding: 'utf8' });
  assert.match(core.stdout, /replay identical/);
  rmSync(file, { force: true });
});

test('--import wasinet/register: smtp-server with STARTTLS and nodemailer, ftp-srv with explicit FTPS and basic-ftp, ws over wss, unmodified, recorded and replayed', { timeout: 90000 }, async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const missing = ['smtp-server', 'nodemailer', 'ftp-srv', 'basic-ftp', 'ws'].filter((m) => { try { import.meta.resolve(m); return false; } catch { return true; } });
  if (missing.length > 0) { t.skip(`not installed: ${missing.join(', ')}`); return; }
  const ftpRoot = mkdtempSync(join(tmpdir(), 'wasinet-ftp-'));
  writeFileSync(join(ftpRoot, 'hello.txt'), 'hi from ftp\n');
  // A control port with free ports after it (ftp-srv's passive range): the replay asks for the same ones.
  const probe = nodeNet.createServer();
  await listen(probe);
  const FTP_PORT = String(portOf(probe));
  await closed(probe);
  const env: NodeJS.ProcessEnv = { ...process.env, TLS_CA: join(root, 'tests/fixtures/localhost-cert.pem'), TLS_KEY: join(root, 'tests/fixtures/localhost-key.pem'), FTP_PORT, FTP_ROOT: ftpRoot };
  delete env.WASINET_RECORD;
  delete env.WASINET_REPLAY;
  delete env.WASINET_TLS;
  const file = sockPath('starttls-libs').replace(/\.sock$/, '.trace');
  const run = (args: string[], more: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [...args, join(root, 'build/tests/host/apps/starttls-libs-app.js')], { cwd: root, env: { ...env, ...more }, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, `${args.join(' ')} ${JSON.stringify(more)}: ${r.stdout}\n${r.stderr}`);
    return r;
  };
  const plain = run([]);
  assert.equal(plain.stdout, [
    'smtp server: secure encrypted=true servername=localhost', 'smtp server: Subject: hello over starttls', 'smtp client: 250 OK',
    'ftp list hello.txt', 'ftp got hi from ftp',
    'wss server: /path encrypted=true', 'wss client: echo one', 'wss client: echo two', 'wss client: closed 1005', 'done', ''].join('\n'));
  const recorded = run(['--import', 'wasinet/register'], { WASINET_RECORD: file });
  assert.equal(recorded.stdout, plain.stdout);
  const trace = readFileSync(file);
  for (const text of ['STARTTLS', 'Subject: hello over starttls', 'AUTH TLS', 'hi from ftp', 'echo one']) {
    assert.ok(trace.includes(Buffer.from(text)), `the trace has the plaintext "${text}"`);
  }
  for (let i = 0; i < 2; i++) {
    const again = run(['--import', 'wasinet/register'], { WASINET_REPLAY: file });
    assert.equal(again.stdout, plain.stdout);
    assert.match(again.stderr, /wasinet replay: the application followed the recording/);
  }
  rmSync(file, { force: true });
  rmSync(ftpRoot, { recursive: true, force: true });
});

test('keylog: a carried session\'s key log lines reach the program, on the client socket and on the server with the program\'s socket, as on node:tls', { timeout: 30000 }, async () => {
  const net = createStack();
  const run = async (serve: Serve, connect: (...a: any[]) => tls.TLSSocket, Sock: typeof nodeNet.Socket): Promise<string[]> => {
    const server = serve(tls.createServer({ key, cert }, (s) => s.end('hi')));
    const lines: string[] = [];
    server.on('keylog', (line: Buffer, s: tls.TLSSocket) => lines.push(`server ${String(line).split(' ')[0]} ${s instanceof Sock && s.encrypted}`));
    await listen(server);
    await new Promise<void>((resolve) => {
      const c = connect({ port: portOf(server), host: '127.0.0.1', servername: 'localhost', ca: cert });
      c.on('keylog', (line: Buffer) => lines.push(`client ${String(line).split(' ')[0]} ${/^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+\n$/.test(String(line))}`));
      c.resume();
      c.on('close', () => resolve());
    });
    await closed(server);
    return lines.sort();
  };
  const node = await run((s) => s, tls.connect, nodeNet.Socket);
  const ours = await run((s) => net.tlsServe(s), net.tlsConnect as (...a: any[]) => tls.TLSSocket, net.Socket as unknown as typeof nodeNet.Socket);
  assert.equal(node.length, 10);
  assert.ok(node.every((l) => l.endsWith(' true')), node.join('\n'));
  assert.deepEqual(ours, node);
});
