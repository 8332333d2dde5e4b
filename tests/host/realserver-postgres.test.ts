// Real servers: a throwaway PostgreSQL cluster (initdb + postgres, started here, stopped after)
// and the npm client `pg` with its sockets from the lib under test: pg's `stream` option is a
// function returning `new net.Socket()` of the lib, on which pg itself calls
// `connect(port, host)` (TCP) or `connect(path)` (host is a dir: the Unix socket
// <dir>/.s.PGSQL.<port>). Every case runs over TCP and over the Unix socket, once with node:net
// and once with wasinet (consumers/util.ts both()): wasinet's result must equal node:net's, and
// both must be what PostgreSQL must answer. Skipped, with the reason printed, without the binaries.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { both, until, sleep, sha256, patternBuffer, tlsFixture, MiB, type Scope, type Sock } from './consumers/util.js';
import { findPostgres, startPostgres, type PgServer } from './consumers/servers.js';
import { freePort } from './helpers.js';

const found = findPostgres();
const skip = 'missing' in found ? `${found.missing}: skipping the PostgreSQL cases` : false;
if (skip) console.log(`# realserver-postgres: ${skip}`);

let server: PgServer | null = null;
before(async () => { if (!('missing' in found)) server = await startPostgres(found); }, { timeout: 90000 });
after(async () => { await server?.stop(); server = null; }, { timeout: 15000 });

type Transport = 'tcp' | 'unix';
const TRANSPORTS: Transport[] = ['tcp', 'unix'];

function srv(): PgServer {
  if (!server) throw new Error('the PostgreSQL server did not start');
  return server;
}

/** pg's connection settings for a transport: host 127.0.0.1, or the socket dir (pg then uses <dir>/.s.PGSQL.<port>). */
function settings(tr: Transport): pg.ClientConfig {
  const s = srv();
  return { host: tr === 'tcp' ? '127.0.0.1' : s.socketDir, port: s.port, user: s.user, database: 'postgres' };
}

/** The sockets pg was given (through its `stream` option), in order. */
interface Made { sockets: Sock[] }

function streamOf(sc: Scope, made: Made): () => Sock {
  return () => {
    const s = sc.track(new sc.net.Socket());
    made.sockets.push(s);
    return s;
  };
}

/** Every socket pg used came from the lib's Socket (a wasinet socket is no node:net Socket). */
function socketsOk(sc: Scope, made: Made, n: number): boolean {
  return made.sockets.length === n && made.sockets.every((s) => s instanceof sc.net.Socket);
}

interface Conn { c: pg.Client; made: Made; errors: string[]; ended: () => boolean }

async function connect(sc: Scope, tr: Transport, extra: pg.ClientConfig = {}): Promise<Conn> {
  const made: Made = { sockets: [] };
  const c = new pg.Client({ ...settings(tr), stream: streamOf(sc, made), ...extra });
  const errors: string[] = [];
  let ended = false;
  c.on('error', (e: Error & { code?: string }) => errors.push(`${e.code ?? '-'} ${e.message}`));
  c.on('end', () => { ended = true; });
  sc.defer(() => c.end().catch(() => {}));
  await c.connect();
  return { c, made, errors, ended: () => ended };
}

function pgError(e: unknown): string {
  const x = e as Error & { code?: string; severity?: string };
  return `${x.code ?? '-'} ${x.severity ?? '-'} ${x.message}`;
}

const md5 = (s: string | Buffer): string => createHash('md5').update(s).digest('hex');

/** `f()` computed once (expected values are checked twice, once per library). */
function memo<T>(f: () => T): () => T {
  let v: { v: T } | null = null;
  return () => (v ??= { v: f() }).v;
}

// ------------------------------------------------------------------------------------------ cases

both('pg on lib sockets (TCP, Unix socket): 1,000 small queries in turn (extended and simple protocol), then 100,000 rows in one result', { timeout: 20000, skip }, async (sc) => {
  const one = async (tr: Transport) => {
    const { c, made, errors } = await connect(sc, tr);
    let sum = 0;
    const texts = createHash('sha256');
    for (let i = 0; i < 500; i++) {
      const r = await c.query('SELECT $1::int * 2 AS v, $2::text AS s', [i, `q${i}`]);
      sum += r.rows[0].v;
      texts.update(`${r.rows[0].s};`);
    }
    for (let i = 0; i < 500; i++) sum += (await c.query(`SELECT ${i} + 1 AS v`)).rows[0].v;
    const rows = await c.query('SELECT g, md5(g::text) AS m FROM generate_series(1, 100000) g');
    await c.end();
    return {
      sum, texts: texts.digest('hex'), rowCount: rows.rowCount,
      rows: sha256(rows.rows.map((x: { g: number; m: string }) => `${x.g}:${x.m}`).join('\n')),
      errors, sockets: socketsOk(sc, made, 1),
    };
  };
  const [tcp, unix] = await Promise.all([one('tcp'), one('unix')]);   // side by side, on two connections
  return { tcp, unix };
}, (r) => {
  const each = smallExpected();
  assert.deepEqual(r, { tcp: each, unix: each });
});
const smallExpected = memo(() => {
  let sum = 0;
  const texts = createHash('sha256');
  for (let i = 0; i < 500; i++) { sum += i * 2 + i + 1; texts.update(`q${i};`); }
  const rows = sha256(Array.from({ length: 100000 }, (_, i) => `${i + 1}:${md5(String(i + 1))}`).join('\n'));
  return { sum, texts: texts.digest('hex'), rowCount: 100000, rows, errors: [], sockets: true };
});

const BIG = 16 * MiB;
/** The echo goes both ways, with content that is not uniform; 4 MiB keeps the case within its time. */
const ECHO = 4 * MiB;
/** 16 MiB of text: base64 of 12 MiB of the pattern (no padding: 12 MiB is a multiple of 3). */
const big = memo((): string => patternBuffer(31, 12 * MiB).toString('base64'));

both('pg on lib sockets (TCP, Unix socket): a 16 MiB parameter (length, md5), a 16 MiB result (repeat), a 4 MiB parameter echoed back', { timeout: 25000, skip }, async (sc) => {
  const text = big();
  const one = async (tr: Transport) => {
    const { c, made, errors } = await connect(sc, tr);
    const p = (await c.query('SELECT length($1::text) AS n, md5($1::text) AS h', [text])).rows[0];
    const rep = (await c.query("SELECT repeat('x', 16*1024*1024) AS s")).rows[0].s as string;
    const echo = (await c.query('SELECT $1::text AS e', [text.slice(0, ECHO)])).rows[0].e as string;
    const after = (await c.query("SELECT 'after' AS a")).rows[0].a;
    await c.end();
    return {
      param: { n: p.n, md5: p.h }, repeat: { length: rep.length, sha: sha256(rep) },
      echo: { length: echo.length, sha: sha256(echo) }, after, errors, sockets: socketsOk(sc, made, 1),
    };
  };
  const [tcp, unix] = await Promise.all([one('tcp'), one('unix')]);   // side by side, on two connections
  return { tcp, unix };
}, (r) => {
  const each = bigExpected();
  assert.deepEqual(r, { tcp: each, unix: each });
});
const bigExpected = memo(() => {
  const text = big();
  assert.equal(text.length, BIG);
  return {
    param: { n: BIG, md5: md5(text) }, repeat: { length: BIG, sha: sha256('x'.repeat(BIG)) },
    echo: { length: ECHO, sha: sha256(text.slice(0, ECHO)) }, after: 'after', errors: [], sockets: true,
  };
});

both('pg on lib sockets (TCP, Unix socket): a connection idle for 2 s (keepAlive on) still answers, on the same backend', { timeout: 15000, skip }, async (sc) => {
  const one = async (tr: Transport) => {
    // keepAlive: pg calls setKeepAlive(true, 1000) on the lib's socket once it connected
    const { c, made, errors } = await connect(sc, tr, { keepAlive: true, keepAliveInitialDelayMillis: 1000 });
    const pid = (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p;
    const t0 = Date.now();
    await sleep(2000);
    const r = (await c.query("SELECT 'still here' AS s, pg_backend_pid() AS p")).rows[0];
    const idled = Date.now() - t0 >= 1990;
    await c.end();
    return { s: r.s, samePid: r.p === pid, idled, errors, sockets: socketsOk(sc, made, 1) };
  };
  const [tcp, unix] = await Promise.all([one('tcp'), one('unix')]);   // idle side by side: 2 s, not 4
  return { tcp, unix };
}, (r) => {
  const each = { s: 'still here', samePid: true, idled: true, errors: [], sockets: true };
  assert.deepEqual(r, { tcp: each, unix: each });
});

/** Notification payload i: a tag, then up to 7,990 bytes (the limit is 8,000); the last is 7,999 bytes. */
function note(i: number, last: number): string {
  const tag = `n${i}:`;
  return i === last ? tag + 'L'.repeat(7999 - tag.length) : tag + 'abcdefghij'.repeat(i % 800).slice(0, (i * 37) % 7990);
}

both('pg on lib sockets: LISTEN/NOTIFY between a TCP client and a Unix-socket client, 300 one way (200 single, 100 in one transaction), 100 back, in order', { timeout: 20000, skip }, async (sc) => {
  const a = await connect(sc, 'tcp');
  const b = await connect(sc, 'unix');
  const pidOf = async (x: Conn) => (await x.c.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
  const [pa, pb] = [await pidOf(a), await pidOf(b)];
  const gotA: string[] = [];
  const gotB: string[] = [];
  const record = (into: string[], from: number) => (n: pg.Notification) =>
    into.push(`${n.channel} ${n.payload!.length} ${sha256(n.payload!).slice(0, 12)} ${n.processId === from}`);
  a.c.on('notification', record(gotA, pb));
  b.c.on('notification', record(gotB, pa));
  await a.c.query('LISTEN ch_a');
  await b.c.query('LISTEN ch_b');
  for (let i = 0; i < 200; i++) await b.c.query('SELECT pg_notify($1, $2)', ['ch_a', note(i, 199)]);
  await b.c.query('BEGIN');
  for (let i = 200; i < 300; i++) await b.c.query(`NOTIFY ch_a, '${note(i, -1)}'`);
  const beforeCommit = gotA.length;
  await b.c.query('COMMIT');
  for (let i = 0; i < 100; i++) await a.c.query('SELECT pg_notify($1, $2)', ['ch_b', note(i, 99)]);
  await until(() => gotA.length >= 300 && gotB.length >= 100, 10000, '300 and 100 notifications');
  await sleep(50);   // nothing more comes
  await a.c.query('UNLISTEN *');
  await b.c.query('UNLISTEN *');
  await a.c.end();
  await b.c.end();
  return {
    a: gotA, b: gotB, beforeCommit: beforeCommit <= 200, errors: [...a.errors, ...b.errors],
    sockets: socketsOk(sc, a.made, 1) && socketsOk(sc, b.made, 1),
  };
}, (r) => {
  const line = (ch: string, p: string) => `${ch} ${p.length} ${sha256(p).slice(0, 12)} true`;
  assert.deepEqual(r, {
    a: [...Array.from({ length: 200 }, (_, i) => line('ch_a', note(i, 199))), ...Array.from({ length: 100 }, (_, i) => line('ch_a', note(i + 200, -1)))],
    b: Array.from({ length: 100 }, (_, i) => line('ch_b', note(i, 99))),
    beforeCommit: true, errors: [], sockets: true,
  });
  assert.equal(note(199, 199).length, 7999);
});

/** Waits until backend `pid` is running a pg_sleep (bounded: 250 polls 20 ms apart). */
async function sleeping(admin: pg.Client, pid: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    const r = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep%'", [pid]);
    if (r.rows[0].n === 1) return;
    await sleep(20);
  }
  throw new Error(`backend ${pid} never ran its pg_sleep`);
}

both('pg on lib sockets (TCP, Unix socket): a query cancelled from another connection (pg_cancel_backend), then one terminated (pg_terminate_backend): the same errors and events', { timeout: 20000, skip }, async (sc) => {
  const out: Record<string, unknown> = {};
  for (const tr of TRANSPORTS) {
    const victim = await connect(sc, tr);
    const admin = await connect(sc, tr);
    const pid = (await victim.c.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
    const settle = (p: Promise<unknown>) => p.then(() => 'no error', pgError);
    const t0 = Date.now();
    const q1 = settle(victim.c.query('SELECT pg_sleep(30)'));
    await sleeping(admin.c, pid);
    const cancelled = (await admin.c.query('SELECT pg_cancel_backend($1) AS ok', [pid])).rows[0].ok;
    const cancelError = await q1;
    const alive = (await victim.c.query("SELECT 'alive' AS s, pg_backend_pid() = $1 AS same", [pid])).rows[0];
    const q2 = settle(victim.c.query('SELECT pg_sleep(30)'));
    await sleeping(admin.c, pid);
    const terminated = (await admin.c.query('SELECT pg_terminate_backend($1) AS ok', [pid])).rows[0].ok;
    const terminateError = await q2;
    await until(victim.ended, 5000, "the terminated client's 'end'");
    const afterwards = await settle(victim.c.query('SELECT 1'));
    const fast = Date.now() - t0 < 10000;
    const gone = (await admin.c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0].n;
    await admin.c.end();
    out[tr] = {
      cancelled, cancelError, alive: `${alive.s} ${alive.same}`, terminated, terminateError,
      clientErrors: victim.errors, ended: victim.ended(), afterwards, fast, gone,
      sockets: socketsOk(sc, victim.made, 1) && socketsOk(sc, admin.made, 1),
    };
  }
  return out;
}, (r) => {
  const each = {
    cancelled: true, cancelError: '57014 ERROR canceling statement due to user request', alive: 'alive true',
    terminated: true, terminateError: '57P01 FATAL terminating connection due to administrator command',
    // pg reports the close that follows the FATAL error as an 'error' on the client
    clientErrors: ['- Connection terminated unexpectedly'], ended: true, afterwards: '- - Client has encountered a connection error and is not queryable',
    fast: true, gone: 0, sockets: true,
  };
  assert.deepEqual(r, { tcp: each, unix: each });
});

both('pg on lib sockets (TCP, Unix socket): a Pool in pipeline mode: 600 pool.query() at once over 3 connections, then 2,000 queries pipelined on one client with one failing in the middle', { timeout: 20000, skip }, async (sc) => {
  const out: Record<string, unknown> = {};
  for (const tr of TRANSPORTS) {
    const made: Made = { sockets: [] };
    const pool = new pg.Pool({ ...settings(tr), max: 3, pipeline: true, stream: streamOf(sc, made) });
    const poolErrors: string[] = [];
    pool.on('error', (e) => poolErrors.push(e.message));
    sc.defer(() => pool.end().catch(() => {}));
    const rs = await Promise.all(Array.from({ length: 600 }, (_, i) =>
      pool.query('SELECT $1::int AS i, repeat($2, $1 % 50) AS s', [i, 'ab'])));
    const poolRows = sha256(rs.map((x) => `${x.rows[0].i}/${x.rows[0].s}`).join(','));
    const connections = pool.totalCount;
    const c = await pool.connect();
    const settled = await Promise.allSettled(Array.from({ length: 2000 }, (_, i) =>
      i === 1000 ? c.query('SELECT 1/0 AS v') : c.query('SELECT $1::int + 1 AS v', [i])));
    const failed = settled.flatMap((x, i) => (x.status === 'rejected' ? [`${i} ${pgError(x.reason)}`] : []));
    const values = sha256(settled.map((x) => (x.status === 'fulfilled' ? String(x.value.rows[0].v) : 'x')).join(','));
    const after = (await c.query("SELECT 'after' AS a")).rows[0].a;
    c.release();
    await pool.end();
    out[tr] = { poolRows, connections, failed, values, after, poolErrors, sockets: socketsOk(sc, made, connections) };
  }
  return out;
}, (r) => {
  const poolRows = sha256(Array.from({ length: 600 }, (_, i) => `${i}/${'ab'.repeat(i % 50)}`).join(','));
  const values = sha256(Array.from({ length: 2000 }, (_, i) => (i === 1000 ? 'x' : String(i + 1))).join(','));
  const each = { poolRows, connections: 3, failed: ['1000 22012 ERROR division by zero'], values, after: 'after', poolErrors: [], sockets: true };
  assert.deepEqual(r, { tcp: each, unix: each });
});

both('pg on lib sockets: connecting to a port nobody listens on, and to a Unix socket that does not exist, fails with the same error', { timeout: 10000, skip }, async (sc) => {
  const port = await freePort();
  const s = srv();
  const out: Record<string, unknown> = {};
  for (const [name, host, p] of [['tcp', '127.0.0.1', port], ['unix', s.socketDir, 1]] as const) {
    const made: Made = { sockets: [] };
    const c = new pg.Client({ host, port: p, user: s.user, database: 'postgres', stream: streamOf(sc, made) });
    const events: string[] = [];
    c.on('error', (e: Error & { code?: string }) => events.push(`error ${e.code}`));
    c.on('end', () => events.push('end'));
    const err = await c.connect().then(() => null, (e: NodeJS.ErrnoException & { address?: string; port?: number }) => ({
      code: e.code, syscall: e.syscall, errno: e.errno, address: e.address, port: e.port === port ? 'the port' : e.port,
      message: e.message.replace(String(port), 'PORT'),
    }));
    const q = await c.query('SELECT 1').then(() => 'answered', (e: Error) => e.message);   // a query after the failure
    await sleep(20);
    out[name] = { err, q, events, sockets: socketsOk(sc, made, 1), destroyed: made.sockets.every((x) => x.destroyed) };
  }
  return out;
}, (r) => {
  const s = srv();
  const missing = `${s.socketDir}/.s.PGSQL.1`;
  assert.deepEqual(r, {
    tcp: {
      err: { code: 'ECONNREFUSED', syscall: 'connect', errno: -111, address: '127.0.0.1', port: 'the port', message: 'connect ECONNREFUSED 127.0.0.1:PORT' },
      q: 'Connection terminated unexpectedly', events: ['end'], sockets: true, destroyed: true,
    },
    unix: {
      err: { code: 'ENOENT', syscall: 'connect', errno: -2, address: missing, port: undefined, message: `connect ENOENT ${missing}` },
      q: 'Connection terminated unexpectedly', events: ['end'], sockets: true, destroyed: true,
    },
  });
});

// SSL: pg sends SSLRequest on the lib's socket, reads the one-byte 'S', and continues over
// tls.connect({ socket }) on that same socket (STARTTLS). The server's certificate is checked.
both('pg over SSL on a lib socket (SSLRequest, then TLS on the same socket): the session is encrypted, a 4 MiB result and 500 queries arrive intact', { timeout: 20000, skip }, async (sc) => {
  const { c, made, errors } = await connect(sc, 'tcp', { ssl: { ca: tlsFixture.cert, servername: 'localhost' } });
  const ssl = (await c.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0] as { ssl: boolean; version: string };
  const big = (await c.query("SELECT md5(repeat('wasinet', 599186)) AS m, repeat('wasinet', 599186) AS s")).rows[0] as { m: string; s: string };
  let sum = 0;
  for (let i = 0; i < 500; i++) sum += (await c.query('SELECT $1::int + 1 AS n', [i])).rows[0].n as number;
  await c.end();
  return { ssl: ssl.ssl, tls13: ssl.version === 'TLSv1.3', md5ok: md5(big.s) === big.m, len: big.s.length, sum, errors, sockets: socketsOk(sc, made, 1) };
}, (r) => {
  assert.deepEqual(r, { ssl: true, tls13: true, md5ok: true, len: 7 * 599186, sum: 125250, errors: [], sockets: true });
});

// The same under `--import wasinet/register` while recording: pg's TLS session runs below
// wasinet's core (host/net/tls.ts takes the SSLRequest socket's connection over), the trace keeps
// the plaintext, and the program replays with no server (the replay opens no socket).
test('pg over SSL, unmodified under --import wasinet/register: recorded against PostgreSQL, replayed twice offline with the same output', { timeout: 60000, skip }, () => {
  const s = srv();
  const root = join(import.meta.dirname, '..', '..', '..');
  const app = join(root, 'build/tests/host/apps/pg-ssl-app.js');
  const file = join(s.socketDir, 'pg-ssl.trace');
  const run = (args: string[], more: Record<string, string> = {}) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PG_PORT: String(s.port), PG_USER: s.user, ...more };
    delete env.WASINET_TLS;
    const r = spawnSync(process.execPath, [...args, app], { cwd: root, env, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, `${args.join(' ')} ${JSON.stringify(more)}: ${r.stdout}\n${r.stderr}`);
    return r;
  };
  const plain = run([]);
  assert.match(plain.stdout, /^ssl=true version=TLSv1\.3\nmd5=[0-9a-f]{32} length=700000\nsum=1275\nended\n$/);
  const recorded = run(['--import', 'wasinet/register'], { WASINET_RECORD: file });
  assert.equal(recorded.stdout, plain.stdout);
  assert.ok(readFileSync(file).includes(Buffer.from('pg_stat_ssl')), 'the trace holds the plaintext of the queries');
  for (let i = 0; i < 2; i++) {
    const again = run(['--import', 'wasinet/register'], { WASINET_REPLAY: file });
    assert.equal(again.stdout, plain.stdout);
    assert.match(again.stderr, /wasinet replay: the application followed the recording/);
  }
});
