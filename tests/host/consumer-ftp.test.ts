// Consumers: FTP and explicit FTPS on a `net`, with ftp-srv as the server and basic-ftp as the
// client; every connection, control and data, is a lib socket on both ends.
// - ftp-srv's control connections: ftp-srv makes its own node:net server (never listened here)
//   and handles each socket its 'connection' gives; the lib's server (pauseOnConnect, as ftp-srv
//   asks of its own) emits its sockets there. AUTH TLS upgrades them with `new tls.TLSSocket(socket,
//   { isServer })` and re-emits their events (ftp-srv's own code).
// - ftp-srv's passive data connections: its Passive connector listens with node:net (or tls)
//   itself, with no way to give it another `net`; here each connection's passive connector gets a
//   setupServer that does what ftp-srv's does on the lib's server: plain sockets as they come, or,
//   after AUTH TLS, fed to a tls.Server (not listening) as https servers are fed (consumers/util.ts).
// - basic-ftp's sockets: its FTPContext makes every socket, control and data, with `_newSocket()`
//   (`new net.Socket()`; its own tests replace it); the client's is replaced by one giving lib
//   sockets, which basic-ftp connects and upgrades with `tls.connect({ socket })`.
// Covered: login (and a rejected one, 530), pwd, LIST, a 1 MiB upload and download checked by
// sha256 (on the server's disk too), SIZE, a small download, `cd` to a missing directory (550),
// DELE, and the same over explicit FTPS (AUTH TLS, PROT P: the data connections are TLS too), the
// server's certificate verified by the client. Every case runs with node:net and with wasinet as
// the lib (consumers/util.ts). (RETR of a missing file is left out: ftp-srv rejects a promise
// nobody handles there, on node:net too.)
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import tls from 'node:tls';
import type { EventEmitter } from 'node:events';
import { FtpSrv } from 'ftp-srv';
import { Client, FTPError } from 'basic-ftp';
import { both, until, sha256, patternChunks, patternSha, tlsFixture, MiB, type Scope, type Sock } from './consumers/util.js';

const host = '127.0.0.1';
const { key, cert } = tlsFixture;
const SIZE = MiB + 123;
const SEED = 70;

/** A logger that logs nothing (ftp-srv wants a bunyan-like one). */
const quiet: Record<string, unknown> = {};
for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) quiet[level] = () => {};
quiet.child = () => quiet;

/** What ftp-srv's code uses of its connection and of its Passive connector (not in its types). */
interface FtpConn extends EventEmitter { commandSocket: Sock; secure: boolean; connector: unknown; server: EventEmitter }
interface Passive {
  type: string; connection: FtpConn; server: EventEmitter & { options: { tls: tls.TlsOptions } };
  dataServer: ReturnType<Scope['net']['createServer']> | null; dataSocket: (Sock & { connected?: boolean }) | null;
  setupServer(): Promise<unknown>; closeServer(): void; end(): void;
}

/**
 * ftp-srv's Passive.setupServer (src/connector/passive.js) on the lib: a data server listening on
 * 127.0.0.1:0 for one connection, which must come from the control connection's address; after
 * AUTH TLS its sockets go through a tls.Server with ftp-srv's key and certificate. `data` gets one
 * line per data connection.
 */
function setupServerOnLib(sc: Scope, p: Passive, data: string[]): Promise<unknown> {
  p.closeServer();
  p.dataSocket = null;
  const conn = p.connection;
  const onSocket = (socket: Sock & { connected?: boolean }) => {
    if (socket.remoteAddress !== conn.commandSocket.remoteAddress) {
      data.push(`refused ${socket.remoteAddress}`);
      socket.destroy();
      return;
    }
    p.dataSocket = socket;
    socket.on('error', (error) => p.server?.emit('client-error', { connection: conn, context: 'dataSocket', error }));
    socket.once('close', () => p.closeServer());
    socket.connected = true;
    const t = socket as tls.TLSSocket;
    data.push(t.encrypted ? `tls ${t.getProtocol()}` : 'plain');
  };
  let front: (net: Scope['net']) => ReturnType<Scope['net']['createServer']>;
  if (conn.secure) {
    const tlsServer = tls.createServer({ ...p.server.options.tls }, onSocket);
    tlsServer.on('tlsClientError', (error) => data.push(`tlsClientError ${error.message}`));
    front = (net) => net.createServer({ pauseOnConnect: true }, (s) => tlsServer.emit('connection', s));
  } else {
    front = (net) => net.createServer({ pauseOnConnect: true }, onSocket);
  }
  const dataServer = front(sc.net);
  dataServer.maxConnections = 1;
  dataServer.on('error', (error) => p.server?.emit('client-error', { connection: conn, context: 'dataServer', error }));
  dataServer.once('close', () => p.end());
  p.dataServer = dataServer;
  return new Promise((resolve) => dataServer.listen(0, host, () => resolve(dataServer)));
}

/**
 * An ftp-srv fed the lib server's sockets, serving a fresh temp dir (three small files and a
 * directory) to alice with password 'pw', with TLS (AUTH TLS) when `secure`. Resolves with the
 * port, the root, and what the server saw.
 */
async function ftpServer(sc: Scope, secure: boolean) {
  const root = mkdtempSync(join(process.env.WASINET_TEST_TMP ?? tmpdir(), 'ftp-'));
  sc.defer(() => rmSync(root, { recursive: true, force: true }));
  for (const n of ['a.txt', 'b.txt', 'c.txt']) writeFileSync(join(root, n), `file ${n}\n`);
  mkdirSync(join(root, 'sub'));
  const log: string[] = [];
  const data: string[] = [];
  let disconnects = 0;

  const signals = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
  const before = signals.map((s) => process.listeners(s));
  const srv = new FtpSrv({ url: `ftp://${host}:0`, pasv_url: host, log: quiet, greeting: 'wasinet test', tls: secure ? { key, cert } : false });
  // ftp-srv puts a quit-the-process handler on these signals: taken off again.
  signals.forEach((s, i) => { for (const f of process.listeners(s)) if (!before[i].includes(f)) process.off(s, f); });
  sc.defer(() => srv.close());

  srv.on('login', ({ connection, username, password }, resolve, reject) => {
    log.push(`login ${username} ${password === 'pw' ? 'ok' : 'refused'} secure=${connection.secure}`);
    connection.on('STOR', (err: Error | null, file: string) => log.push(`STOR ${err ? err.message : file.slice(root.length)}`));
    connection.on('RETR', (err: Error | null, file: string) => log.push(`RETR ${err ? err.message : file.slice(root.length)}`));
    if (password === 'pw') resolve({ root }); else reject(new Error('bad password'));
  });
  srv.on('client-error', ({ context, error }) => log.push(`client-error ${context} ${(error as NodeJS.ErrnoException).code ?? error.message}`));
  srv.on('disconnect', () => { disconnects++; });
  srv.on('connect' as 'disconnect', ({ connection }) => {
    // Each passive connector this connection makes (PASV, EPSV) sets up its server on the lib.
    const c = connection as unknown as FtpConn;
    let connector = c.connector;
    Object.defineProperty(c, 'connector', {
      configurable: true,
      get: () => connector,
      set: (v: Passive) => {
        if (v?.type === 'passive') v.setupServer = () => setupServerOnLib(sc, v, data);
        connector = v;
      },
    });
  });

  const ftpNodeServer = (srv as unknown as { server: EventEmitter }).server;
  const front = sc.net.createServer({ pauseOnConnect: true }, (s) => ftpNodeServer.emit('connection', s));
  const port = await new Promise<number>((resolve, reject) => {
    front.once('error', reject);
    front.listen(0, host, () => resolve((front.address() as { port: number }).port));
  });
  return { port, root, log, data, disconnects: () => disconnects };
}

/** A basic-ftp client whose sockets, control and data, are the lib's. */
function ftpClient(sc: Scope): Client {
  const c = new Client(8000);
  (c.ftp as unknown as { _newSocket(): Sock })._newSocket = () => sc.track(new sc.net.Socket());
  sc.defer(() => c.close());
  return c;
}

function sink(): { w: Writable; got: Buffer[] } {
  const got: Buffer[] = [];
  return { w: new Writable({ write(chunk: Buffer, _e, cb) { got.push(chunk); cb(); } }), got };
}

function ftpErr(e: unknown): string {
  return e instanceof FTPError ? `FTPError ${e.code}` : `${(e as Error).name} ${(e as Error).message}`;
}

/** One session of what a user does; the transcript of what the client saw. */
async function session(sc: Scope, port: number, root: string, secure: boolean) {
  const c = ftpClient(sc);
  const login = await c.access({ host, port, user: 'alice', password: 'pw', secure, secureOptions: { ca: cert } });
  const control = c.ftp.socket instanceof tls.TLSSocket ? `tls ${c.ftp.socket.getProtocol()} authorized=${c.ftp.socket.authorized}` : 'plain';
  const pwd = await c.pwd();
  const list = (await c.list()).map((f) => `${f.name} ${f.isDirectory ? 'dir' : `${f.size}`}`).sort();
  const up = await c.uploadFrom(Readable.from(patternChunks(SEED, SIZE)), 'big.bin');
  const onDisk = sha256(readFileSync(join(root, 'big.bin')));
  const size = await c.size('big.bin');
  const down = sink();
  const dl = await c.downloadTo(down.w, 'big.bin');
  const small = sink();
  await c.downloadTo(small.w, 'a.txt');
  let missing = 'no error';
  try { await c.cd('nope'); } catch (e) { missing = ftpErr(e); }
  const pwdAfter = await c.pwd();
  await c.remove('big.bin');
  const list2 = (await c.list()).map((f) => f.name).sort();
  c.close();
  const all = Buffer.concat(down.got);
  return {
    login: `${login.code} ${login.message.split('\n').join(' | ')}`, control, pwd, list,
    upload: up.code, onDisk, size, download: `${dl.code} ${all.length} ${sha256(all)}`,
    small: Buffer.concat(small.got).toString(), missing, pwdAfter, list2,
  };
}

/** A login with the wrong password: how the client sees it refused. */
async function badLogin(sc: Scope, port: number, secure: boolean): Promise<string> {
  const c = ftpClient(sc);
  try {
    await c.access({ host, port, user: 'alice', password: 'wrong', secure, secureOptions: { ca: cert } });
    return 'no error';
  } catch (e) {
    return ftpErr(e);
  } finally {
    c.close();
  }
}

function checkSession(s: Awaited<ReturnType<typeof session>>, secure: boolean): void {
  const sha = patternSha(SEED, SIZE);
  assert.deepEqual(s, {
    login: '220 220-wasinet test | 220 Ready',
    control: secure ? 'tls TLSv1.3 authorized=true' : 'plain',
    pwd: '/', list: ['a.txt 11', 'b.txt 11', 'c.txt 11', 'sub dir'],
    upload: 226, onDisk: sha, size: SIZE, download: `226 ${SIZE} ${sha}`,
    small: 'file a.txt\n', missing: 'FTPError 550', pwdAfter: '/', list2: ['a.txt', 'b.txt', 'c.txt', 'sub'],
  });
}

for (const secure of [false, true]) {
  const what = secure ? 'explicit FTPS (AUTH TLS, TLS data connections)' : 'plain FTP';
  both(`ftp-srv fed the lib's sockets, basic-ftp on lib sockets, ${what}: login, LIST, 1 MiB up and down by sha256, SIZE, 550, DELE, a refused login`, { timeout: 15000 }, async (sc) => {
    const srv = await ftpServer(sc, secure);
    const s = await session(sc, srv.port, srv.root, secure);
    const refused = await badLogin(sc, srv.port, secure);
    await until(() => srv.disconnects() === 2, 5000, 'the server to see both clients go');
    return { session: s, refused, server: srv.log, data: srv.data };
  }, (r) => {
    checkSession(r.session, secure);
    const mode = secure ? 'tls TLSv1.3' : 'plain';
    assert.deepEqual(r, {
      session: r.session, refused: 'FTPError 530',
      server: [`login alice ok secure=${secure}`, 'STOR /big.bin', 'RETR /big.bin', 'RETR /a.txt', `login alice refused secure=${secure}`],
      // LIST, STOR, RETR, RETR, LIST: each on its own data connection.
      data: [mode, mode, mode, mode, mode],
    });
  });
}
