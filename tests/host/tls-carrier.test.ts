// tls.connect with its session below the core (host/net/tls.ts, host/backend/node-tls.ts): the
// same program against the same node:tls servers, once with Node's tls.connect and once with a
// stack's tlsConnect, logs the same events, errors and session state; recorded, it replays
// offline with the same log (the trace holds the plaintext and the session's state).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import nodeNet from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createStack, formatAppDivergence, readTrace, timelineHtml, type MetaRecord } from '../../host/index.js';
import { sockPath, throwsNode, listenOn, portOf, bothWays } from './helpers.js';

const root = join(import.meta.dirname, '..', '..', '..');
const key = readFileSync(join(root, 'tests/fixtures/localhost-key.pem'));
const cert = readFileSync(join(root, 'tests/fixtures/localhost-cert.pem'));

type Connect = (...args: any[]) => tls.TLSSocket;

/** What a program can see of a TLS client socket once secure. */
function stateOf(c: tls.TLSSocket): string[] {
  const peer = c.getPeerCertificate(true) as tls.DetailedPeerCertificate;
  const brief = c.getPeerCertificate() as tls.PeerCertificate & { issuerCertificate?: unknown };
  return [
    `authorized=${c.authorized} authorizationError=${c.authorizationError} alpn=${c.alpnProtocol} servername=${(c as { servername?: unknown }).servername}`,
    `protocol=${c.getProtocol()} cipher=${JSON.stringify(c.getCipher())} ephemeral=${JSON.stringify(c.getEphemeralKeyInfo())}`,
    `reused=${c.isSessionReused()} session=${typeof c.getSession()} finished=${c.getFinished()?.length} peerFinished=${c.getPeerFinished()?.length}`,
    `own=${JSON.stringify(c.getCertificate())} encrypted=${c.encrypted} remote=${c.remoteAddress}/${c.remoteFamily} local=${c.localAddress}`,
    `peer subject=${JSON.stringify(peer.subject)} issuer=${JSON.stringify(peer.issuer)} san=${peer.subjectaltname}`,
    `peer valid=${peer.valid_from}..${peer.valid_to} fp=${peer.fingerprint256} serial=${peer.serialNumber} bits=${peer.bits}`,
    `peer raw=${createHash('sha256').update(peer.raw).digest('hex')} pubkey=${peer.pubkey?.length} self-issued=${peer.issuerCertificate === peer}`,
    `brief has issuer link=${'issuerCertificate' in brief} x509=${c.getPeerX509Certificate()?.fingerprint256}`,
  ];
}

/** Logs a 'data' chunk, joined to the entry before when that was data too (TCP keeps no chunk boundaries). */
function logData(log: string[], prefix: string, d: unknown): void {
  const last = log.length - 1;
  if (last >= 0 && log[last].startsWith(prefix)) log[last] += String(d);
  else log.push(`${prefix}${String(d)}`);
}

function errorOf(e: NodeJS.ErrnoException & Record<string, unknown>): string {
  const props = Object.keys(e).filter((k) => k !== 'cert').sort().map((k) => `${k}=${JSON.stringify(e[k])}`);
  const cert = e.cert as { subject?: { CN?: string } } | undefined;
  return `error ${e.constructor.name} ${e.code} ${e.message} [${props.join(' ')}]${cert ? ` cert=${cert.subject?.CN}` : ''}`;
}

/** Connects with `args`, writes `send` once secure (then ends), and logs everything until 'close'. */
function session(connect: Connect, args: unknown[], send: string | null = 'hello'): Promise<string[]> {
  return new Promise((resolve) => {
    const log: string[] = [];
    const c = connect(...args, () => {
      log.push('secureConnect', ...stateOf(c));
      if (send !== null) c.end(send);
    });
    c.on('secureConnect', () => log.push('secureConnect event'));
    c.on('data', (d: Buffer) => logData(log, 'data ', d));
    c.on('end', () => log.push('end'));
    c.on('error', (e: NodeJS.ErrnoException & Record<string, unknown>) => log.push(errorOf(e)));
    c.on('close', (hadError: boolean) => {
      log.push(`close ${hadError} after: ${JSON.stringify(c.getPeerCertificate())} ${c.getProtocol()} ${c.isSessionReused()} ${c.getCipher()}`);
      resolve(log);
    });
  });
}

function echoServer(options: tls.TlsOptions = {}): tls.Server {
  const server = tls.createServer({ key, cert, ALPNProtocols: ['x', 'echo'], ...options }, (s) => {
    s.on('data', (d) => s.write(`echo:${d}`));
    s.on('end', () => s.end('bye'));
    s.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  return server;
}

const listen = listenOn;

/** The cases, each a list of sessions against the servers of `env`. */
async function cases(connect: Connect, env: { port: number; rawPort: number; closedPort: number; path: string }): Promise<Record<string, string[]>> {
  const { port } = env;
  return {
    'trusted, with ALPN': await session(connect, [{ port, host: 'localhost', ca: cert, ALPNProtocols: ['echo'] }]),
    'an IP address (no SNI), port and host arguments': await session(connect, [port, '127.0.0.1', { ca: cert }]),
    'port and options arguments, a servername': await session(connect, [port, { ca: cert, host: 'localhost', servername: 'localhost' }]),
    'a self-signed certificate not trusted': await session(connect, [{ port, host: 'localhost' }]),
    'not trusted, rejectUnauthorized false': await session(connect, [{ port, host: 'localhost', rejectUnauthorized: false }]),
    'a name the certificate is not for': await session(connect, [{ port, host: 'localhost', ca: cert, servername: 'elsewhere.test' }]),
    'a peer that closes before the handshake': await session(connect, [{ port: env.rawPort, host: '127.0.0.1', ca: cert }]),
    'nothing listening': await session(connect, [{ port: env.closedPort, host: '127.0.0.1', ca: cert }]),
    'a Unix socket': await session(connect, [{ path: env.path, ca: cert, servername: 'localhost' }]),
  };
}

async function withServers<T>(fn: (env: { port: number; rawPort: number; closedPort: number; path: string }) => Promise<T>): Promise<T> {
  const server = echoServer();
  await listen(server);
  const unix = echoServer();
  const path = sockPath('tls');
  await listen(unix, path);
  // A TCP server that ends every connection at once, before any handshake.
  const raw = nodeNet.createServer((s) => { s.on('error', () => {}); s.end(); });
  await listen(raw);
  const gone = nodeNet.createServer();
  await listen(gone);
  const closedPort = portOf(gone);
  await new Promise((r) => gone.close(r));
  try {
    return await fn({ port: portOf(server), rawPort: portOf(raw), closedPort, path });
  } finally {
    // The raw server's close does not wait: on node:net its half-closed socket to a client that
    // gave up never reports 'close' (with Node's tls.connect as with ours), and holds no handle.
    raw.close();
    await Promise.all([server, unix].map((s) => new Promise((r) => s.close(r))));
  }
}

test('tlsConnect: every case logs what node:tls logs (events, errors, the session state, after close)', { timeout: 30000 }, async () => {
  const net = createStack();
  const [node, ours] = await withServers(async (env) => [
    await cases(tls.connect as Connect, env),
    await cases(net.tlsConnect as Connect, env),
  ]);
  for (const name of Object.keys(node)) assert.deepEqual(ours[name], node[name], name);
  // The cases do what they say.
  assert.ok(node['trusted, with ALPN'].includes('data echo:hellobye'));
  assert.match(node['trusted, with ALPN'].join('\n'), /alpn=echo/);
  assert.match(node['a self-signed certificate not trusted'].join('\n'), /DEPTH_ZERO_SELF_SIGNED_CERT/);
  assert.match(node['not trusted, rejectUnauthorized false'].join('\n'), /authorized=false authorizationError=DEPTH_ZERO_SELF_SIGNED_CERT/);
  assert.match(node['a name the certificate is not for'].join('\n'), /ERR_TLS_CERT_ALTNAME_INVALID/);
  assert.match(node['a peer that closes before the handshake'].join('\n'), /ECONNRESET Client network socket disconnected/);
  assert.match(node['nothing listening'].join('\n'), /ECONNREFUSED/);
  assert.ok(node['a Unix socket'].includes('data echo:hellobye'));
});

test('tlsConnect: the sockets it makes are wasinet sockets, and bad input throws what tls.connect throws', () => {
  const net = createStack();
  const made = net.tlsConnect({ port: 9, host: '127.0.0.1' });
  made.on('error', () => {});
  assert.ok(made instanceof net.Socket, 'a socket of the stack');
  assert.equal(made.encrypted, true);
  assert.equal(made.authorized, false);
  assert.deepEqual(made.getPeerCertificate(), {});
  made.destroy();
  assert.equal(made.getPeerCertificate(), null);
  for (const connect of [tls.connect, net.tlsConnect]) {
    throwsNode(() => connect({ port: 70000, host: '127.0.0.1' }), RangeError, 'ERR_SOCKET_BAD_PORT',
      'Port should be >= 0 and < 65536. Received type number (70000).');
  }
  let nodeErr: unknown = null;
  let ourErr: unknown = null;
  try { tls.connect({ port: 1, host: '127.0.0.1', key: 'not a key', cert }); } catch (e) { nodeErr = e; }
  try { net.tlsConnect({ port: 1, host: '127.0.0.1', key: 'not a key', cert }); } catch (e) { ourErr = e; }
  assert.ok(nodeErr instanceof Error);
  assert.ok(ourErr instanceof Error);
  assert.equal(String(ourErr), String(nodeErr));
  assert.equal((ourErr as NodeJS.ErrnoException).code, (nodeErr as NodeJS.ErrnoException).code);
});

test('tlsConnect: 4 MiB each way through the core, in order, while the peer reads slowly', { timeout: 30000 }, async () => {
  const net = createStack();
  const r = await bothWays((handler) => tls.createServer({ key, cert, allowHalfOpen: true }, handler),
    (port) => net.tlsConnect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' }));
  assert.ok(r.serverGot !== null && r.serverGot.equals(r.up), 'the server got every byte, in order');
  assert.ok(r.clientGot.equals(r.down), 'the client got every byte, in order');
  assert.equal(r.client.bytesWritten, r.up.length);
});

test('tlsConnect: recorded, the program replays offline with the same log; the trace holds the plaintext', { timeout: 30000 }, async () => {
  const file = sockPath('tls').replace(/\.sock$/, '.trace');
  const rec = createStack({ record: file });
  let recorded: Parameters<typeof cases>[1] | null = null;
  const real = await withServers((env) => { recorded = env; return cases(rec.tlsConnect as Connect, env); });
  await rec.recorder!.close();
  const trace = readFileSync(file);
  assert.ok(trace.includes(Buffer.from('echo:hello')), 'the peer\'s plaintext is in the trace');
  assert.ok(trace.includes(Buffer.from('hello')), 'the program\'s plaintext is in the trace');
  const tlsRecords = readTrace(file).records.filter((r): r is MetaRecord => r.kind === 'meta' && r.type === 'tls');
  assert.ok(tlsRecords.length >= 8, `the sessions' states are in the trace (${tlsRecords.length})`);
  // Every session saw the same certificate: the trace holds its chain once (and once more in the
  // one error that carries it, ERR_TLS_CERT_ALTNAME_INVALID's `cert`); the reader gives it to each.
  const der = (new (await import('node:crypto')).X509Certificate(cert)).raw.toString('base64');
  assert.equal(trace.toString('latin1').split(der).length - 1, 2, 'the certificate is kept once, and in the one error with it');
  const secured = tlsRecords.filter((r) => (r.data.state as { secure?: unknown } | null)?.secure !== undefined);
  assert.ok(secured.length >= 5);
  for (const r of secured) assert.equal((r.data.state as { secure: { peerCertificate: { subject: { CN: string } } } }).secure.peerCertificate.subject.CN, 'localhost');
  // The timeline shows each session's state on its socket's lane.
  const page = timelineHtml(file);
  assert.match(page, /tls h=\d+ secure: TLSv1\.3 TLS_AES_256_GCM_SHA384, ALPN echo, peer CN=localhost \(issuer CN=localhost\), authorized/);
  assert.match(page, /tls h=\d+ error: ERR_TLS_CERT_ALTNAME_INVALID Hostname\/IP does not match/);
  assert.match(page, /tls h=\d+ secure: [^"]*not authorized \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  assert.match(page, /client h=\d+ [^"]* · TLS/);
  for (let round = 0; round < 2; round++) {
    // No server now: the replay opens nothing.
    const net = createStack({ replay: { path: file, wait: 1000, onDivergence: (d) => assert.fail(formatAppDivergence(d)) } });
    // The recorded ports and path: the program connects where it did.
    const replayed = await cases(net.tlsConnect as Connect, recorded!);
    const done = await net.replay!.done;
    assert.deepEqual(replayed, real);
    assert.deepEqual([done.ok, done.inputs], [true, done.total]);
  }
  rmSync(file, { force: true });
});

test('--import wasinet/register: an unmodified program\'s tls.connect, https.get, fetch over https and STARTTLS are recorded and replay offline', { timeout: 90000 }, async () => {
  const { spawn, spawnSync } = await import('node:child_process');
  const apps = join(root, 'build/tests/host/apps');
  const env: NodeJS.ProcessEnv = { ...process.env, TLS_CA: join(root, 'tests/fixtures/localhost-cert.pem'), TLS_KEY: join(root, 'tests/fixtures/localhost-key.pem'), NODE_EXTRA_CA_CERTS: join(root, 'tests/fixtures/localhost-cert.pem') };
  delete env.WASINET_RECORD;
  delete env.WASINET_REPLAY;
  delete env.WASINET_TLS;
  // The servers, in a process of their own (node:net's): never part of a recording.
  const server = spawn(process.execPath, [join(apps, 'tls-server.js')], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const ports = await new Promise<string>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const [TLS_PORT, HTTPS_PORT, STARTTLS_PORT] = ports.split(' ');
  const run = (args: string[], more: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [...args, join(apps, 'tls-app.js')], { cwd: root, env: { ...env, TLS_PORT, HTTPS_PORT, STARTTLS_PORT, ...more }, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, `${args.join(' ')} ${JSON.stringify(more)}: ${r.stdout}\n${r.stderr}`);
    return r;
  };
  const file = sockPath('tls-app').replace(/\.sock$/, '.trace');
  let plain, hooked, recorded;
  try {
    plain = run([]);
    hooked = run(['--import', 'wasinet/register']);
    recorded = run(['--import', 'wasinet/register'], { WASINET_RECORD: file });
  } finally {
    server.stdin.end();
    await new Promise((r) => server.on('exit', r));
  }
  const lines = plain.stdout;
  assert.match(lines, /secureConnect authorized=true alpn=echo/);
  assert.match(lines, /refused: error ERR_TLS_CERT_ALTNAME_INVALID/);
  assert.match(lines, /https 200 hi \/agent encrypted=true/);
  assert.match(lines, /https \/again0 200 session reused=false\nhttps \/again1 200 session reused=true\nhttps \/again2 200 session reused=true/);
  assert.match(lines, /fetch 200 hi \/fetch/);
  assert.match(lines, /instanceof tls.TLSSocket=true net.Socket=true/);
  assert.match(lines, /plain 220 go ahead\nstarttls secureConnect authorized=true protocol=TLSv1\.3 peer=localhost\nstarttls data echo:mail from the program\nstarttls close; plain destroyed=true/);
  assert.equal(hooked.stdout, lines);
  assert.equal(recorded.stdout, lines);
  // Under the hook a session runs below the core only when the process records or replays.
  assert.match(plain.stderr, /session below wasinet's core: false/);
  assert.match(hooked.stderr, /session below wasinet's core: false/);
  assert.match(recorded.stderr, /session below wasinet's core: true/);
  const trace = readFileSync(file);
  for (const text of ['hello over tls', 'echo:hello over tls', 'GET /agent', 'hi /agent', 'GET /fetch', 'hi /fetch', 'echo:mail from the program']) {
    assert.ok(trace.includes(Buffer.from(text)), `the trace has the plaintext "${text}"`);
  }
  // The servers are gone: the replay runs offline.
  for (let i = 0; i < 2; i++) {
    const again = run(['--import', 'wasinet/register'], { WASINET_REPLAY: file });
    assert.equal(again.stdout, lines);
    assert.match(again.stderr, /wasinet replay: the application followed the recording/);
    assert.match(again.stderr, /session below wasinet's core: true/);
  }
  const core = spawnSync(process.execPath, [join(root, 'bin/wasinet.js'), 'replay', file], { encoding: 'utf8' });
  assert.match(core.stdout, /replay identical/);
  rmSync(file, { force: true });
});

/** STARTTLS: a plain exchange ('X', answered 'S'), then tls.connect({ socket }) on that socket. */
function upgraded(lib: { connect: (...a: any[]) => nodeNet.Socket }, connect: Connect, port: number, options: tls.ConnectionOptions): Promise<string[]> {
  return new Promise((resolve) => {
    const log: string[] = [];
    const plain = lib.connect(port, '127.0.0.1', () => { plain.write('X'); });
    for (const e of ['connect', 'ready', 'data', 'end', 'close', 'error', 'finish']) plain.on(e, (a) => (e === 'data' ? logData(log, 'plain data ', a) : log.push(`plain ${e} `)));
    plain.once('data', () => {
      const t = connect({ socket: plain, ...options }, () => {
        log.push(`secure ${t.authorized} ${t.getProtocol()} ${t.remoteAddress} ${t.remotePort === plain.remotePort} ${plain.destroyed}`);
        t.end('hi');
      });
      t.write('early');
      for (const e of ['connect', 'ready', 'secureConnect', 'data', 'end', 'close', 'error', 'finish']) {
        t.on(e, (a) => (e === 'data' ? logData(log, 'tls data ', a) : log.push(`tls ${e} ${e === 'error' ? errorOf(a) : ''}`)));
      }
      t.on('close', () => setImmediate(() => { log.push(`after: plain.destroyed ${plain.destroyed}`); resolve(log); }));
    });
  });
}

/** tls.connect({ socket }) on a socket that is still connecting (node:tls waits for its 'connect'). */
function wrappedEarly(lib: { connect: (...a: any[]) => nodeNet.Socket }, connect: Connect, port: number, options: tls.ConnectionOptions): Promise<string[]> {
  return new Promise((resolve) => {
    const log: string[] = [];
    const plain = lib.connect(port, 'localhost');
    for (const e of ['connect', 'ready', 'data', 'end', 'close', 'error', 'finish']) plain.on(e, (a) => (e === 'data' ? logData(log, 'plain data ', a) : log.push(`plain ${e} `)));
    const t = connect({ socket: plain, ...options }, () => { log.push(`secure ${t.authorized} ${t.getProtocol()}`); t.end('hi'); });
    t.write('early');
    for (const e of ['connect', 'ready', 'secureConnect', 'data', 'end', 'close', 'error', 'finish']) {
      t.on(e, (a) => (e === 'data' ? logData(log, 'tls data ', a) : log.push(`tls ${e} ${e === 'error' ? errorOf(a) : ''}`)));
    }
    t.on('close', () => setImmediate(() => { log.push(`after: plain.destroyed ${plain.destroyed}`); resolve(log); }));
  });
}

async function upgrades(lib: { connect: (...a: any[]) => nodeNet.Socket }, connect: Connect, ports: { starttls: number; tls: number }): Promise<Record<string, string[]>> {
  return {
    'STARTTLS, trusted': await upgraded(lib, connect, ports.starttls, { ca: cert, servername: 'localhost' }),
    'STARTTLS, the certificate checked against the name given as host': await upgraded(lib, connect, ports.starttls, { ca: cert, host: 'localhost' }),
    'STARTTLS, not trusted': await upgraded(lib, connect, ports.starttls, { servername: 'localhost' }),
    'a socket still connecting, checked against the name it connects to': await wrappedEarly(lib, connect, ports.tls, { ca: cert }),
    'a socket still connecting, not trusted': await wrappedEarly(lib, connect, ports.tls, {}),
  };
}

async function withUpgradeServers<T>(fn: (ports: { starttls: number; tls: number }) => Promise<T>): Promise<T> {
  // Reads one byte, answers 'S', then speaks TLS on the same connection.
  const starttls = nodeNet.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => {
      s.write('S');
      const t = new tls.TLSSocket(s, { isServer: true, key, cert });
      t.on('data', (d) => t.write(`echo:${d}`));
      t.on('end', () => t.end());
      t.on('error', () => {});
    });
  });
  await listen(starttls);
  const server = echoServer();
  await listen(server);
  try {
    return await fn({ starttls: portOf(starttls), tls: portOf(server) });
  } finally {
    await Promise.all([starttls, server].map((s) => new Promise((r) => s.close(r))));
  }
}

test('tlsConnect({ socket }): STARTTLS on a connected socket, and a socket still connecting, log what node:tls logs (both sockets); recorded, they replay offline', { timeout: 30000 }, async () => {
  const net = createStack();
  const [node, ours] = await withUpgradeServers(async (ports) => [
    await upgrades(nodeNet, tls.connect as Connect, ports),
    await upgrades(net, net.tlsConnect as Connect, ports),
  ]);
  for (const name of Object.keys(node)) assert.deepEqual(ours[name], node[name], name);
  assert.match(node['STARTTLS, trusted'].join('\n'), /tls data echo:earlyecho:hi/);
  assert.ok(node['STARTTLS, trusted'].includes('plain data S'));
  assert.match(node['STARTTLS, not trusted'].join('\n'), /DEPTH_ZERO_SELF_SIGNED_CERT/);
  assert.match(node['a socket still connecting, checked against the name it connects to'].join('\n'), /secure true TLSv1\.3[^]*tls data echo:early/);
  assert.match(node['a socket still connecting, not trusted'].join('\n'), /DEPTH_ZERO_SELF_SIGNED_CERT/);

  const file = sockPath('starttls').replace(/\.sock$/, '.trace');
  const rec = createStack({ record: file });
  let ports: { starttls: number; tls: number } | null = null;
  const real = await withUpgradeServers((p) => { ports = p; return upgrades(rec, rec.tlsConnect as Connect, p); });
  await rec.recorder!.close();
  assert.deepEqual(real, node);
  const trace = readFileSync(file);
  assert.ok(trace.includes(Buffer.from('echo:early')), 'the plaintext after the upgrade is in the trace');
  for (let round = 0; round < 2; round++) {
    const again = createStack({ replay: { path: file, wait: 1000, onDivergence: (d) => assert.fail(formatAppDivergence(d)) } });
    const replayed = await upgrades(again, again.tlsConnect as Connect, ports!);
    const done = await again.replay!.done;
    assert.deepEqual(replayed, real);
    assert.deepEqual([done.ok, done.inputs], [true, done.total]);
  }
  rmSync(file, { force: true });
});

test('http2 over tlsConnect: the session is encrypted with its ALPN protocol, and its streams answer as over node:tls; recorded, it replays', { timeout: 30000 }, async () => {
  const http2 = await import('node:http2');
  const server = http2.createSecureServer({ key, cert }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => { body += d; });
    req.on('end', () => res.end(`h2 got ${req.url} ${body}`));
  });
  await listen(server as unknown as nodeNet.Server);
  const port = portOf(server as unknown as nodeNet.Server);
  const session = async (connect: Connect): Promise<string[]> => {
    const log: string[] = [];
    const client = http2.connect(`https://localhost:${port}`, {
      createConnection: () => connect({ port, host: 'localhost', ca: cert, servername: 'localhost', ALPNProtocols: ['h2'] }),
    });
    client.on('error', (e) => log.push(`error ${e.message}`));
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    log.push(`connect encrypted=${client.encrypted} alpn=${client.alpnProtocol}`);
    for (const i of [1, 2, 3]) {
      const req = client.request({ ':method': 'POST', ':path': `/x${i}` });
      req.setEncoding('utf8');
      let body = '';
      const status = await new Promise<unknown>((resolve) => {
        req.on('response', (h) => resolve(h[':status']));
        req.on('data', (d: string) => { body += d; });
        req.end(`payload ${i}`);
      });
      await new Promise((r) => req.on('end', r));
      log.push(`${status} ${body}`);
    }
    await new Promise<void>((resolve) => client.close(() => resolve()));
    log.push('closed');
    return log;
  };
  const file = sockPath('h2').replace(/\.sock$/, '.trace');
  let node: string[];
  try {
    node = await session(tls.connect as Connect);
    const ours = await session(createStack().tlsConnect as Connect);
    assert.deepEqual(ours, node);
    assert.deepEqual(node.slice(0, 2), ['connect encrypted=true alpn=h2', '200 h2 got /x1 payload 1']);
    const rec = createStack({ record: file });
    assert.deepEqual(await session(rec.tlsConnect as Connect), node);
    await rec.recorder!.close();
  } finally {
    server.close();
  }
  const again = createStack({ replay: { path: file, wait: 1000, onDivergence: (d) => assert.fail(formatAppDivergence(d)) } });
  assert.deepEqual(await session(again.tlsConnect as Connect), node);
  const done = await again.replay!.done;
  assert.deepEqual([done.ok, done.inputs], [true, done.total]);
  rmSync(file, { force: true });
});

test('tlsConnect recorded in small rotating segments: each segment keeps the certificate chain it refers to, and the whole replays', { timeout: 30000 }, async () => {
  const server = echoServer();
  await listen(server);
  const port = portOf(server);
  const file = sockPath('tls-rot').replace(/\.sock$/, '.trace');
  const run = async (net: { tlsConnect: (...a: unknown[]) => unknown }): Promise<string[][]> => {
    const out: string[][] = [];
    for (let i = 0; i < 4; i++) out.push(await session(net.tlsConnect as Connect, [{ port, host: 'localhost', ca: cert }], `hello ${i}`));
    return out;
  };
  let real: string[][];
  try {
    const rec = createStack({ record: { path: file, maxBytes: 4000 } });
    real = await run(rec);
    await rec.recorder!.close();
  } finally {
    server.close();
  }
  const segments = readdirSync(dirname(file)).filter((f) => f.startsWith(basename(file).replace(/\.trace$/, '')));
  assert.ok(segments.length >= 3, `the recording rotated (${segments.join(', ')})`);
  assert.ok(real.every((log, i) => log.includes(`data echo:hello ${i}bye`)), 'each session echoed');
  // Read alone (an older one may be gone: `keep`), each segment has the chain of every state in it.
  let states = 0;
  for (const seg of segments) {
    for (const r of readTrace(join(dirname(file), seg)).records) {
      if (r.kind !== 'meta' || r.type !== 'tls') continue;
      const secure = (r.data.state as { secure?: { peerCertificate: { subject?: { CN?: string } } | null } } | null)?.secure;
      if (secure === undefined) continue;
      states++;
      assert.equal(secure.peerCertificate?.subject?.CN, 'localhost', `${seg}: a state without its chain`);
    }
  }
  assert.ok(states >= 4, `states seen across the segments (${states})`);
  const again = createStack({ replay: { path: file, wait: 1000, onDivergence: (d) => assert.fail(formatAppDivergence(d)) } });
  assert.deepEqual(await run(again), real);
  const done = await again.replay!.done;
  assert.deepEqual([done.ok, done.inputs], [true, done.total]);
});

/** Three sessions, each offering the ticket the one before got: the events and whether each resumed. */
async function tickets(connect: Connect, port: number): Promise<string[]> {
  const out: string[] = [];
  let ticket: Buffer | null = null;
  for (let i = 0; i < 3; i++) {
    out.push(await new Promise<string>((resolve) => {
      const log: string[] = [];
      const c = connect({ port, host: '127.0.0.1', servername: 'localhost', ca: cert, session: ticket ?? undefined }, () => log.push(`secure reused=${c.isSessionReused()}`));
      c.on('session', (s: Buffer) => { log.push(`session ${Buffer.isBuffer(s) && s.length > 0}`); ticket = s; });
      c.on('data', (d) => log.push(`data ${d}`));
      c.on('end', () => log.push('end'));
      c.on('close', () => resolve(log.join(', ')));
    }));
  }
  return out;
}

test('tlsConnect: session tickets come as \'session\' events, and a session offered one resumes, as with node:tls (TLS 1.3 and 1.2); recorded, replayed', { timeout: 30000 }, async () => {
  const file = sockPath('tls-tickets').replace(/\.sock$/, '.trace');
  const servers = await Promise.all(['TLSv1.3', 'TLSv1.2'].map(async (maxVersion) => {
    // TLS 1.3: the server writes at once, so its tickets come after that data; TLS 1.2: with the handshake.
    const s = tls.createServer({ key, cert, maxVersion: maxVersion as tls.SecureVersion }, (c) => c.end('hi'));
    await listen(s);
    return s;
  }));
  try {
    const node = await Promise.all(servers.map((s) => tickets(tls.connect as Connect, portOf(s))));
    const net = createStack();
    const ours = await Promise.all(servers.map((s) => tickets(net.tlsConnect as Connect, portOf(s))));
    const rec = createStack({ record: file });
    const recorded: string[][] = [];
    for (const s of servers) recorded.push(await tickets(rec.tlsConnect as Connect, portOf(s)));
    await rec.recorder!.close();
    // node:tls's order but one: a TLS 1.3 ticket after data comes before the next event ('end') here, after that 'data' there.
    assert.deepEqual(node[0], ['secure reused=false, data hi, session true, session true, end', 'secure reused=true, data hi, end', 'secure reused=true, data hi, end']);
    assert.deepEqual(node[1], ['secure reused=false, session true, data hi, end', 'secure reused=true, data hi, end', 'secure reused=true, data hi, end']);
    assert.deepEqual(ours, node);
    assert.deepEqual(recorded, node);
    assert.match(timelineHtml(file), /tls h=\d+ 2 session tickets \(&#39;session&#39;\)|tls h=\d+ 2 session tickets \('session'\)/);
    for (let round = 0; round < 2; round++) {
      const again = createStack({ replay: { path: file, wait: 1000, onDivergence: (d) => assert.fail(formatAppDivergence(d)) } });
      const replayed: string[][] = [];
      for (const s of servers) replayed.push(await tickets(again.tlsConnect as Connect, portOf(s)));
      const done = await again.replay!.done;
      assert.deepEqual(replayed, node);
      assert.deepEqual([done.ok, done.inputs], [true, done.total]);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(file, { force: true });
  }
});
