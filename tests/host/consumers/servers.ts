// Shared by the realserver-*.test files: real database and broker servers (PostgreSQL, Redis)
// started by the test itself on loopback, in a throwaway temp dir, and always stopped again.
//
// Every wait is bounded (in time and in attempts). A server is stopped by the file's after()
// hook; should the test process die first, the server dies with it (setpriv --pdeathsig, where
// util-linux has it) and an 'exit' handler kills it and removes its dir (exit handlers do not run
// on a signal: then the parent-death signal is what ends the server).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import nodeNet from 'node:net';
import { freePort, sleep } from '../helpers.js';
import { tlsFixture } from './util.js';

// ------------------------------------------------------------------------------ finding binaries

function executable(p: string): boolean {
  try { accessSync(p, constants.X_OK); return true; } catch { return false; }
}

const pathDirs = (): string[] => (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');

/** The first `name` on PATH (or in `extra`), or null. */
export function which(name: string, extra: string[] = []): string | null {
  for (const d of [...pathDirs(), ...extra]) if (executable(join(d, name))) return join(d, name);
  return null;
}

/** Debian's versioned PostgreSQL bin dirs, newest first. */
function debianPgDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch { return []; }
}

export interface PgBinaries { initdb: string; postgres: string }

/** initdb and postgres from one dir (PATH first, then /usr/lib/postgresql/N/bin), or why not. */
export function findPostgres(): PgBinaries | { missing: string } {
  for (const d of [...pathDirs(), ...debianPgDirs()]) {
    if (executable(join(d, 'initdb')) && executable(join(d, 'postgres'))) return { initdb: join(d, 'initdb'), postgres: join(d, 'postgres') };
  }
  return { missing: 'PostgreSQL binaries (initdb, postgres) not found on PATH nor in /usr/lib/postgresql/*/bin' };
}

/** redis-server, or why not. */
export function findRedis(): { redisServer: string } | { missing: string } {
  const p = which('redis-server', ['/usr/bin', '/usr/local/bin', '/usr/sbin']);
  return p ? { redisServer: p } : { missing: 'redis-server not found on PATH (Debian: apt-get install redis-server)' };
}

// ---------------------------------------------------------------------------------- processes

const setpriv = which('setpriv', ['/usr/bin', '/bin']);

/** uid/gid to run PostgreSQL as when we are root (it refuses to run as root): postgres, else nobody. */
function unprivilegedUser(): { uid: number; gid: number; name: string } | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  let passwd = '';
  try { passwd = readFileSync('/etc/passwd', 'utf8'); } catch { /* none */ }
  const entries = passwd.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 4);
  for (const name of ['postgres', 'nobody']) {
    const e = entries.find((f) => f[0] === name);
    if (e) return { name, uid: Number(e[2]), gid: Number(e[3]) };
  }
  return { name: 'nobody', uid: 65534, gid: 65534 };
}

/** A server process we started: its output (bounded), its exit, and a bounded stop. */
export class Proc {
  readonly child: ChildProcess;
  output = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<void>;
  readonly #onExit = () => { try { this.child.kill('SIGKILL'); } catch { /* gone */ } };

  constructor(readonly name: string, file: string, args: string[], opts: SpawnOptions = {}) {
    // With setpriv the server gets SIGKILL when this process dies, however it dies.
    const [cmd, argv] = setpriv ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', file, ...args]] : [file, args];
    this.child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const keep = (d: Buffer) => { this.output = (this.output + d.toString()).slice(-16384); };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (e) => { this.output += `\nspawn error: ${e.message}`; this.exit ??= { code: -1, signal: null }; resolve(); });
      this.child.once('exit', (code, signal) => { this.exit = { code, signal }; resolve(); });
    });
    process.on('exit', this.#onExit);
    void this.exited.then(() => process.off('exit', this.#onExit));
  }

  /** Resolves true once it exited, false after `ms`. */
  async waitExit(ms: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited.then(() => true), new Promise<boolean>((res) => { t = setTimeout(() => res(false), ms); })]);
    clearTimeout(t);
    return r;
  }

  /** `signal`, then SIGKILL if it has not exited within `ms`; never rejects, bounded. */
  async stop(signal: NodeJS.Signals, ms = 5000): Promise<void> {
    if (this.exit) return;
    try { this.child.kill(signal); } catch { /* gone */ }
    if (await this.waitExit(ms)) return;
    try { this.child.kill('SIGKILL'); } catch { /* gone */ }
    await this.waitExit(2000);
  }

  describe(): string {
    return `${this.name} ${this.exit ? `exited (code ${this.exit.code}, signal ${this.exit.signal})` : 'running'}; output:\n${this.output.trim()}`;
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * A temp dir removed on stop() or at process exit, whichever comes first. A process killed by a
 * signal runs no exit handler: its dir is left, with an `owner` file naming its pid; the next
 * TempDir of the same prefix removes the dirs whose owner is gone.
 */
class TempDir {
  readonly path: string;
  readonly #onExit = () => this.remove();
  constructor(prefix: string) {
    // os.tmpdir(), not WASINET_TEST_TMP: that one is 0700 root's, which PostgreSQL's user cannot
    // enter; and the Unix socket path must stay short (108 bytes).
    TempDir.sweep(prefix);
    this.path = mkdtempSync(join(tmpdir(), prefix));
    writeFileSync(join(this.path, 'owner'), String(process.pid));
    process.on('exit', this.#onExit);
  }

  static sweep(prefix: string): void {
    let names: string[] = [];
    try { names = readdirSync(tmpdir()).filter((n) => n.startsWith(prefix)).slice(0, 50); } catch { return; }
    for (const n of names) {
      let pid = NaN;
      try { pid = Number(readFileSync(join(tmpdir(), n, 'owner'), 'utf8')); } catch { continue; }   // not ours, or being made
      if (Number.isInteger(pid) && pid > 0 && !alive(pid)) {
        try { rmSync(join(tmpdir(), n), { recursive: true, force: true }); } catch { /* best effort */ }
      }
    }
  }
  remove(): void {
    process.off('exit', this.#onExit);
    try { rmSync(this.path, { recursive: true, force: true, maxRetries: 3 }); } catch { /* best effort */ }
  }
}

/** Runs `file` to completion within `ms` (killed after); rejects with its output when it fails. */
async function run(name: string, file: string, args: string[], opts: SpawnOptions, ms: number): Promise<void> {
  const p = new Proc(name, file, args, opts);
  if (!(await p.waitExit(ms))) {
    await p.stop('SIGKILL', 1000);
    throw new Error(`${name} did not finish within ${ms} ms; output:\n${p.output.trim()}`);
  }
  if (p.exit!.code !== 0) throw new Error(p.describe());
}

/** Polls `probe` every `every` ms, at most `tries` times, while `proc` runs; rejects with why not. */
async function ready(proc: Proc, probe: () => Promise<boolean>, tries: number, every: number): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (proc.exit) throw new Error(`${proc.describe()}`);
    if (await probe().catch(() => false)) return;
    await sleep(every);
  }
  throw new Error(`${proc.name} not ready after ${tries} attempts ${every} ms apart; ${proc.describe()}`);
}

/**
 * Connects with node:net to `where`, writes `send`, resolves true once what came back contains
 * `expect`, false on error/close/2 s. A readiness probe, independent of the library under test.
 */
function probe(where: nodeNet.NetConnectOpts, send: Buffer, expect: (got: Buffer) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const s = nodeNet.connect(where);
    let got = Buffer.alloc(0);
    const done = (ok: boolean) => { clearTimeout(t); s.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), 2000);
    s.on('connect', () => s.write(send));
    s.on('data', (d: Buffer) => { got = Buffer.concat([got, d]); if (expect(got)) done(true); });
    s.on('error', () => done(false));
    s.on('close', () => done(false));
  });
}

/** Starts a server on a fresh port, retrying with another port (at most `attempts`) if it dies early. */
async function onFreePort<T>(attempts: number, start: (port: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try { return await start(await freePort()); } catch (e) { last = e; }
  }
  throw last;
}

// --------------------------------------------------------------------------------- PostgreSQL

export interface PgServer {
  port: number;
  /** The dir holding the Unix socket (.s.PGSQL.<port>): pg's `host` for a Unix socket. */
  socketDir: string;
  /** The Unix socket's path. */
  socketPath: string;
  user: string;
  proc: Proc;
  stop(): Promise<void>;
}

/** The startup message of protocol 3.0 for user/database postgres: a probe answered with 'R' (auth). */
function pgStartup(): Buffer {
  const body = Buffer.from('user\0postgres\0database\0postgres\0\0');
  const b = Buffer.alloc(8 + body.length);
  b.writeInt32BE(b.length, 0);
  b.writeInt32BE(196608, 4);
  body.copy(b, 8);
  return b;
}

/**
 * initdb (trust auth, no fsync) into a fresh temp dir, then `postgres -D dir -k dir -p port -c
 * listen_addresses=127.0.0.1`, waited for by connecting over TCP and the Unix socket until the
 * server answers a startup message with AuthenticationOk ('R' ... 0). As root, both run as the
 * postgres user (or nobody), which owns the dir. stop(): SIGINT (fast shutdown), SIGKILL after 5 s,
 * then the dir is removed.
 */
export async function startPostgres(bin: PgBinaries): Promise<PgServer> {
  const dir = new TempDir('wasinet-pg-');
  const as = unprivilegedUser();
  const ids: SpawnOptions = as ? { uid: as.uid, gid: as.gid } : {};
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };
  try {
    if (as) chownSync(dir.path, as.uid, as.gid);
    const data = join(dir.path, 'data');
    await run('initdb', bin.initdb, ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { ...ids, env, cwd: dir.path }, 60000);
    // TLS for the clients that ask (SSLRequest), with the tests' localhost certificate.
    for (const [name, bytes] of [['server.crt', tlsFixture.cert], ['server.key', tlsFixture.key]] as const) {
      const file = join(data, name);
      writeFileSync(file, bytes, { mode: 0o600 });
      if (as) chownSync(file, as.uid, as.gid);
    }
    return await onFreePort(3, async (port) => {
      const proc = new Proc('postgres', bin.postgres, ['-D', data, '-k', dir.path, '-p', String(port),
        '-c', 'listen_addresses=127.0.0.1', '-c', 'ssl=on', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
        '-c', 'max_connections=40', '-c', 'log_min_messages=warning'], { ...ids, env, cwd: dir.path });
      const socketPath = join(dir.path, `.s.PGSQL.${port}`);
      const authOk = (b: Buffer) => b.length >= 9 && b[0] === 0x52 && b.readInt32BE(5) === 0;
      try {
        await ready(proc, () => probe({ port, host: '127.0.0.1' }, pgStartup(), authOk), 150, 100);
        await ready(proc, () => probe({ path: socketPath }, pgStartup(), authOk), 50, 100);
      } catch (e) {
        await proc.stop('SIGKILL', 2000);
        throw e;
      }
      return {
        port, socketDir: dir.path, socketPath, user: 'postgres', proc,
        async stop() { await proc.stop('SIGINT', 5000); dir.remove(); },
      };
    });
  } catch (e) {
    dir.remove();
    throw e;
  }
}

// -------------------------------------------------------------------------------------- Redis

export interface RedisServer {
  port: number;
  socketPath: string;
  proc: Proc;
  stop(): Promise<void>;
}

/**
 * `redis-server --port P --save '' --appendonly no --unixsocket dir/r.sock` (bound to 127.0.0.1,
 * no persistence), waited for with PINGs over TCP and the Unix socket. stop(): SIGTERM, SIGKILL
 * after 5 s, then the dir is removed.
 */
export async function startRedis(bin: { redisServer: string }): Promise<RedisServer> {
  const dir = new TempDir('wasinet-redis-');
  try {
    return await onFreePort(3, async (port) => {
      const socketPath = join(dir.path, 'r.sock');
      const proc = new Proc('redis-server', bin.redisServer, ['--port', String(port), '--bind', '127.0.0.1',
        '--save', '', '--appendonly', 'no', '--unixsocket', socketPath, '--unixsocketperm', '700',
        '--dir', dir.path, '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning'], { cwd: dir.path });
      const pong = (b: Buffer) => b.toString().includes('+PONG');
      try {
        await ready(proc, () => probe({ port, host: '127.0.0.1' }, Buffer.from('PING\r\n'), pong), 100, 50);
        await ready(proc, () => probe({ path: socketPath }, Buffer.from('PING\r\n'), pong), 50, 50);
      } catch (e) {
        await proc.stop('SIGKILL', 2000);
        throw e;
      }
      return {
        port, socketPath, proc,
        async stop() { await proc.stop('SIGTERM', 5000); dir.remove(); },
      };
    });
  } catch (e) {
    dir.remove();
    throw e;
  }
}
