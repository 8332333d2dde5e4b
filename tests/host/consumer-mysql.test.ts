// Consumers: the MySQL protocol on a `net`, with mysql2 on both ends. mysql2's server
// (`mysql.createServer()`) listens with node:net itself; what it does with each accepted socket is
// `new Connection({ config: new ConnectionConfig({ stream: socket, isServer: true }) })`, so here
// the lib's server does the same with its sockets. The client is `mysql.createConnection({ stream })`
// given a lib socket (mysql2 takes it as the connection's stream, over TCP or a Unix socket path).
// Covered: the handshake with a mysql_native_password check on the server (the client's scrambled
// token verified against the password), a query of a few rows, an OK packet, an error packet (code,
// errno, sqlState as the client reports them), a result of 2,000 rows (~420 KB, by digest), ping,
// end (COM_QUIT, the server sees the stream end), a rejected login (1045); then auth, rows, ping and
// end over a Unix socket path. Neither end may warn of packets out of order. Every connection is a
// lib socket on both ends. Every case runs with node:net and with wasinet as the lib (consumers/util.ts).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import mysql from 'mysql2';
import { sockPath } from './helpers.js';
import { both, until, sha256, type Scope, type Sock } from './consumers/util.js';

const host = '127.0.0.1';
const PASSWORD = 'secret-pw';
const BIG = 2000;

/** The server side of a mysql2 Connection (what `mysql.createServer()` hands out), typed loosely. */
interface ServerConn extends EventEmitter {
  serverHandshake(args: object): void;
  writeColumns(columns: object[]): void;
  writeTextRow(row: (string | null)[]): void;
  writeEof(warnings?: number, statusFlags?: number): void;
  writeOk(args?: object): void;
  writeError(args: { code: number; message: string }): void;
  sequenceId: number;
}
const { Connection, ConnectionConfig } = mysql as unknown as {
  Connection: new (o: { config: unknown }) => ServerConn;
  ConnectionConfig: new (o: { stream: Sock; isServer: true }) => unknown;
};

function sha1(...parts: Buffer[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** mysql_native_password: token = SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))); checked as the server does. */
function tokenIsFor(password: string, scramble1: Buffer, scramble2: Buffer, token: Buffer): boolean {
  const doubleSha = sha1(sha1(Buffer.from(password)));
  if (token.length !== 20) return false;
  const mask = sha1(scramble1, scramble2, doubleSha);
  const stage1 = Buffer.from(token.map((b, i) => b ^ mask[i]));
  return sha1(stage1).equals(doubleSha);
}

const col = (name: string, type: number) => ({
  catalog: 'def', schema: 'db', table: 't', orgTable: 't', name, orgName: name,
  characterSet: 33, columnLength: 255, columnType: type, flags: 0, decimals: 0,
});
const LONG = 3;
const VAR_STRING = 253;

/** Row i of the big result: ~210 bytes of text that differ per row. */
function bigText(i: number): string {
  return `${sha256(String(i)).repeat(3)}:${String(i).padStart(16, '.')}`;
}

/** The digest the client's rows of the big result must give. */
function rowsDigest(rows: { id: number; body: string }[]): string {
  const h = createHash('sha256');
  for (const r of rows) h.update(`${r.id}|${r.body}\n`);
  return h.digest('hex');
}

/**
 * A mysql2 server Connection on each of the lib server's sockets (what mysql2's own Server does
 * with its node:net sockets). Listens on TCP, or on `path` when given; resolves with where to
 * connect and what the server logged, connection by connection.
 */
async function mysqlServer(sc: Scope, path?: string): Promise<{ port: number; log: string[][] }> {
  const log: string[][] = [];
  const server = sc.net.createServer((socket) => {
    const id = log.length + 1;
    const l: string[] = [];
    log.push(l);
    const conn = new Connection({ config: new ConnectionConfig({ stream: socket, isServer: true }) });
    conn.serverHandshake({
      protocolVersion: 10, serverVersion: '8.0.0-wasinet-test', connectionId: id, statusFlags: 2,
      characterSet: 33, capabilityFlags: 0xffffff,
      authCallback: (p: { user: string; database: string; authPluginData1: Buffer; authPluginData2: Buffer; authToken: Buffer },
        cb: (err: null, mysqlError?: { message: string; code: number }) => void) => {
        const ok = p.user === 'alice' && tokenIsFor(PASSWORD, p.authPluginData1, p.authPluginData2, p.authToken);
        l.push(`auth ${p.user} db=${p.database || '-'} ${ok ? 'ok' : 'denied'}`);
        cb(null, ok ? undefined : { message: `Access denied for user '${p.user}'`, code: 1045 });
        conn.sequenceId = 0;
      },
    });
    // mysql2's server keeps counting sequence ids across commands (both ends would warn 'got
    // packets out of order'); each command starts at 0, so the count is reset after the OK of the
    // handshake (above) and after each command's reply ('packet' comes once it was handled).
    conn.on('packet', () => { conn.sequenceId = 0; });
    conn.on('warn', (e: Error) => l.push(`warn ${e.message}`));
    conn.on('query', (sql: string) => {
      l.push(`query ${sql}`);
      if (sql === 'SELECT id, name FROM t') {
        conn.writeColumns([col('id', LONG), col('name', VAR_STRING)]);
        for (let i = 0; i < 5; i++) conn.writeTextRow([String(i), `name-${i}`]);
        conn.writeEof();
      } else if (sql === 'SELECT id, body FROM big') {
        conn.writeColumns([col('id', LONG), col('body', VAR_STRING)]);
        for (let i = 0; i < BIG; i++) conn.writeTextRow([String(i), bigText(i)]);
        conn.writeEof();
      } else if (sql.startsWith('INSERT')) {
        conn.writeOk({ affectedRows: 3, insertId: 42 });
      } else {
        conn.writeError({ code: 1064, message: 'You have an error in your SQL syntax' });
      }
    });
    conn.on('end', () => l.push('end'));
    conn.on('error', (e: { code?: string }) => l.push(`error ${e.code}`));
    socket.on('close', () => l.push('closed'));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    if (path) server.listen(path, () => resolve(0));
    else server.listen(0, host, () => resolve((server.address() as { port: number }).port));
  });
  return { port, log };
}

type Client = ReturnType<typeof mysql.createConnection>;

/** A mysql2 client on a lib socket; what it reports as 'error' events goes to `errors`. */
function client(sc: Scope, stream: Sock, user: string, password: string, errors: string[]): Client {
  const c = mysql.createConnection({ stream, user, password, database: 'db', connectTimeout: 5000 });
  c.on('error', (e: { code?: string }) => errors.push(`error event ${e.code}`));
  c.on('warn' as 'error', (e: Error) => errors.push(`warn ${e.message}`));
  sc.defer(() => c.destroy());
  return c;
}

function connect(c: Client): Promise<string> {
  return new Promise((resolve) => c.connect((err) => resolve(err ? `${err.code} ${err.errno} ${err.message}` : `ok threadId=${c.threadId}`)));
}

interface QueryResult { rows?: Record<string, unknown>[]; fields?: string[]; ok?: object; error?: object }

function query(c: Client, sql: string): Promise<QueryResult> {
  return new Promise((resolve) => c.query(sql, (err, rows, fields) => {
    if (err) resolve({ error: { code: err.code, errno: err.errno, sqlState: err.sqlState, message: err.message, fatal: err.fatal } });
    else if (Array.isArray(rows)) resolve({ rows: rows as Record<string, unknown>[], fields: (fields ?? []).map((f) => f.name) });
    else resolve({ ok: { ...rows } });
  }));
}

function ping(c: Client): Promise<string> {
  return new Promise((resolve) => c.ping((err) => resolve(err ? `${err.code}` : 'pong')));
}

function end(c: Client): Promise<string> {
  return new Promise((resolve) => c.end((err) => resolve(err ? `${err.code}` : 'ended')));
}

both('mysql2 server Connections on the lib\'s sockets, mysql2 clients on lib sockets: auth, rows, OK, error packet, 2,000 rows, ping, end, rejected login', { timeout: 15000 }, async (sc) => {
  const { port, log } = await mysqlServer(sc);
  const errors: string[] = [];
  const c = client(sc, sc.net.connect(port, host), 'alice', PASSWORD, errors);
  const connected = await connect(c);
  const few = await query(c, 'SELECT id, name FROM t');
  const insert = await query(c, 'INSERT INTO t VALUES (1),(2),(3)');
  const bad = await query(c, 'BOGUS SQL');
  const big = await query(c, 'SELECT id, body FROM big');
  const bigRows = big.rows as { id: number; body: string }[];
  const bigBytes = bigRows.reduce((n, r) => n + r.body.length, 0);
  const after = await query(c, 'SELECT id, name FROM t');
  const pinged = await ping(c);
  const ended = await end(c);
  await until(() => log[0]?.includes('closed'), 5000, 'the server\'s socket to close');

  // A wrong password: the server's check refuses it, the client reports the error packet.
  const errors2: string[] = [];
  const c2 = client(sc, sc.net.connect(port, host), 'alice', 'wrong', errors2);
  const rejected = await connect(c2);
  await until(() => log[1]?.includes('closed'), 5000, 'the server\'s socket of the rejected client to close');
  return {
    connected, few, insert, bad, after: after.rows?.length, pinged, ended, errors,
    big: { count: bigRows.length, fields: big.fields, first: bigRows[0].id, last: bigRows[BIG - 1].id, bytes: bigBytes, digest: rowsDigest(bigRows) },
    rejected, errors2, log,
  };
}, (r) => {
  const expectBig = Array.from({ length: BIG }, (_, i) => ({ id: i, body: bigText(i) }));
  const queries = ['SELECT id, name FROM t', 'INSERT INTO t VALUES (1),(2),(3)', 'BOGUS SQL', 'SELECT id, body FROM big', 'SELECT id, name FROM t'];
  assert.deepEqual(r, {
    connected: 'ok threadId=1',
    few: { rows: Array.from({ length: 5 }, (_, i) => ({ id: i, name: `name-${i}` })), fields: ['id', 'name'] },
    insert: { ok: { fieldCount: 0, affectedRows: 3, insertId: 42, info: '', serverStatus: 0, warningStatus: 0, changedRows: 0 } },
    bad: { error: { code: 'ER_PARSE_ERROR', errno: 1064, sqlState: '_____', message: 'You have an error in your SQL syntax', fatal: undefined } },
    after: 5, pinged: 'pong', ended: 'ended', errors: [],
    big: { count: BIG, fields: ['id', 'body'], first: 0, last: BIG - 1, bytes: expectBig.reduce((n, x) => n + x.body.length, 0), digest: rowsDigest(expectBig) },
    rejected: "ER_ACCESS_DENIED_ERROR 1045 Access denied for user 'alice'",
    errors2: ['error event ER_ACCESS_DENIED_ERROR'],
    log: [
      ['auth alice db=db ok', ...queries.map((q) => `query ${q}`), 'end', 'error PROTOCOL_CONNECTION_LOST', 'closed'],
      ['auth alice db=db denied', 'end', 'closed'],
    ],
  });
  assert.ok(r.big.bytes > 400_000, `${r.big.bytes} bytes`);
});

both('mysql2 over a Unix socket path: the lib\'s server on the path, a mysql2 client on a lib socket to it; auth, rows, ping, end', { timeout: 15000 }, async (sc) => {
  const path = sockPath('mysql');
  const { log } = await mysqlServer(sc, path);
  const errors: string[] = [];
  const c = client(sc, sc.net.connect(path), 'alice', PASSWORD, errors);
  const connected = await connect(c);
  const few = await query(c, 'SELECT id, name FROM t');
  const pinged = await ping(c);
  const ended = await end(c);
  await until(() => log[0]?.includes('closed'), 5000, 'the server\'s socket to close');
  return { connected, rows: few.rows, pinged, ended, errors, log };
}, (r) => {
  assert.deepEqual(r, {
    connected: 'ok threadId=1',
    rows: Array.from({ length: 5 }, (_, i) => ({ id: i, name: `name-${i}` })),
    pinged: 'pong', ended: 'ended', errors: [],
    log: [['auth alice db=db ok', 'query SELECT id, name FROM t', 'end', 'error PROTOCOL_CONNECTION_LOST', 'closed']],
  });
});
