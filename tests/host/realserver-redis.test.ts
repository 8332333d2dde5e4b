// Real servers: redis-server (started here on a free port and a Unix socket in a temp dir, no
// persistence, stopped after) and the npm client `ioredis` with its sockets from the lib under
// test. ioredis takes a `Connector` option, a class it instantiates with its options and whose
// connect() resolves with the stream to use; the one here subclasses ioredis's exported
// AbstractConnector (as its own StandaloneConnector does) and returns the lib's
// `createConnection({ port, host })` or `createConnection({ path })`. Every case runs over TCP and
// the Unix socket, once with node:net and once with wasinet (consumers/util.ts both()): wasinet's
// result must equal node:net's, and both must be what Redis must answer. Skipped, with the reason
// printed, without redis-server.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { after, before } from 'node:test';
import { Redis, AbstractConnector, type RedisOptions } from 'ioredis';
import { both, once, until, sleep, sha256, patternBuffer, patternSha, MiB, KiB, type Scope, type Sock } from './consumers/util.js';
import { findRedis, startRedis, type RedisServer } from './consumers/servers.js';
import { freePort } from './helpers.js';

const found = findRedis();
const skip = 'missing' in found ? `${found.missing}: skipping the Redis cases` : false;
if (skip) console.log(`# realserver-redis: ${skip}`);

let server: RedisServer | null = null;
before(async () => { if (!('missing' in found)) server = await startRedis(found); }, { timeout: 30000 });
after(async () => { await server?.stop(); server = null; }, { timeout: 15000 });

type Transport = 'tcp' | 'unix';
const TRANSPORTS: Transport[] = ['tcp', 'unix'];
const other = (tr: Transport): Transport => (tr === 'tcp' ? 'unix' : 'tcp');

function srv(): RedisServer {
  if (!server) throw new Error('redis-server did not start');
  return server;
}

interface Made { sockets: Sock[] }

/** An ioredis Connector whose streams are the lib's sockets (tracked by the scope, counted in `made`). */
function connectorFor(sc: Scope, made: Made) {
  return class LibConnector extends AbstractConnector {
    readonly #options: { path?: string; port?: number; host?: string };
    constructor(options: unknown) {
      const o = options as { disconnectTimeout: number; path?: string; port?: number; host?: string };
      super(o.disconnectTimeout);
      this.#options = o;
    }

    // As StandaloneConnector: the stream is made on the next tick, unless disconnect() came first.
    connect(): Promise<Sock> {
      this.connecting = true;
      const o = this.#options;
      return new Promise((resolve, reject) => {
        process.nextTick(() => {
          if (!this.connecting) { reject(new Error('Connection is closed.')); return; }
          let s: Sock;
          try {
            s = sc.net.createConnection(o.path ? { path: o.path } : { port: o.port!, host: o.host! });
          } catch (e) { reject(e); return; }
          made.sockets.push(s);
          this.stream = s;
          s.once('error', (e) => { this.firstError = e; });
          resolve(s);
        });
      });
    }
  };
}

interface Client { r: Redis; made: Made; events: string[] }

/** An ioredis client on the lib over `tr`, ready; no reconnecting unless `options` says so. */
async function client(sc: Scope, tr: Transport, options: RedisOptions = {}): Promise<Client> {
  const s = srv();
  const made: Made = { sockets: [] };
  const where = tr === 'tcp' ? { port: s.port, host: '127.0.0.1' } : { path: s.socketPath };
  const r = new Redis({
    ...where, Connector: connectorFor(sc, made), connectTimeout: 5000, maxRetriesPerRequest: 0,
    retryStrategy: () => null, ...options,
  });
  const events: string[] = [];
  for (const ev of ['connect', 'ready', 'close', 'reconnecting', 'end']) r.on(ev, () => events.push(ev));
  r.on('error', (e: Error & { code?: string }) => events.push(`error ${e.code ?? e.message}`));
  sc.defer(() => r.disconnect());
  await once(r as unknown as EventEmitter, 'ready', 5000);
  return { r, made, events };
}

/** Every socket ioredis used came from the lib (a wasinet socket is no node:net Socket). */
function socketsOk(sc: Scope, made: Made, n: number): boolean {
  return made.sockets.length === n && made.sockets.every((s) => s instanceof sc.net.Socket);
}

/** QUIT, then wait for the client's 'end' (bounded). */
async function quit(c: Client): Promise<string> {
  const ok = await c.r.quit();
  await until(() => c.events.includes('end'), 3000, "ioredis' 'end' after QUIT");
  return ok;
}

// ------------------------------------------------------------------------------------------ cases

const BIG = 16 * MiB;

/** `f()` computed once (values and expected results serve both libraries). */
function memo<T>(f: () => T): () => T {
  let v: { v: T } | null = null;
  return () => (v ??= { v: f() }).v;
}
const bigValue = memo(() => patternBuffer(41, BIG));

/** The result the 10,000-command pipeline must give (command i: SET, GET of the last SET, INCR, RPUSH). */
function pipelinePlan(r: Redis, tr: string) {
  const p = r.pipeline();
  for (let i = 0; i < 10000; i++) {
    switch (i % 4) {
      case 0: p.set(`${tr}:k${i}`, `v${i}`); break;
      case 1: p.get(`${tr}:k${i - 1}`); break;
      case 2: p.incr(`${tr}:ctr`); break;
      default: p.rpush(`${tr}:list`, String(i));
    }
  }
  return p;
}
const pipelineExpected = memo((): string =>
  sha256(JSON.stringify(Array.from({ length: 10000 }, (_, i) =>
    [null, [`OK`, `v${i - 1}`, (i - 2) / 4 + 1, (i - 3) / 4 + 1][i % 4]]))));

both('ioredis on lib sockets (TCP, Unix socket): SET and GET of a 16 MiB value, then a pipeline of 10,000 commands', { timeout: 20000, skip }, async (sc) => {
  const value = bigValue();
  const out: Record<string, unknown> = {};
  for (const tr of TRANSPORTS) {
    const c = await client(sc, tr);
    if (tr === 'tcp') await c.r.flushall();
    const set = await c.r.set(`${tr}:big`, value);
    const got = await c.r.getBuffer(`${tr}:big`);
    const len = await c.r.strlen(`${tr}:big`);
    const mid = (await c.r.getrangeBuffer(`${tr}:big`, 8 * MiB, 8 * MiB + 15)).toString('hex');
    const res = await pipelinePlan(c.r, tr).exec();
    const list = await c.r.lrange(`${tr}:list`, 0, -1);
    const ok = await quit(c);
    out[tr] = {
      set, got: got ? { bytes: got.length, sha: sha256(got) } : null, len, mid,
      pipeline: { count: res?.length, sha: sha256(JSON.stringify(res)) }, list: { count: list.length, sha: sha256(list.join(',')) },
      quit: ok, events: c.events, sockets: socketsOk(sc, c.made, 1),
    };
  }
  return out;
}, (r) => {
  const list = Array.from({ length: 2500 }, (_, i) => String(4 * i + 3));
  const each = {
    set: 'OK', got: { bytes: BIG, sha: patternSha(41, BIG) }, len: BIG,
    mid: bigValue().subarray(8 * MiB, 8 * MiB + 16).toString('hex'),
    pipeline: { count: 10000, sha: pipelineExpected() }, list: { count: 2500, sha: sha256(list.join(',')) },
    quit: 'OK', events: ['connect', 'ready', 'close', 'end'], sockets: true,
  };
  assert.deepEqual(r, { tcp: each, unix: each });
});

both('ioredis on lib sockets (TCP, Unix socket): a connection idle for 2 s answers the next command, on the same connection', { timeout: 15000, skip }, async (sc) => {
  const one = async (tr: Transport) => {
    const c = await client(sc, tr);
    const id = await c.r.client('ID');
    const t0 = Date.now();
    await sleep(2000);
    const pong = await c.r.ping();
    const echo = await c.r.echo(`after idle ${tr}`);
    const sameId = (await c.r.client('ID')) === id;
    const idled = Date.now() - t0 >= 1990;
    const ok = await quit(c);
    return { pong, echo, sameId, idled, quit: ok, events: c.events, sockets: socketsOk(sc, c.made, 1) };
  };
  const [tcp, unix] = await Promise.all([one('tcp'), one('unix')]);   // idle side by side: 2 s, not 4
  return { tcp, unix };
}, (r) => {
  const each = (tr: string) => ({ pong: 'PONG', echo: `after idle ${tr}`, sameId: true, idled: true, quit: 'OK', events: ['connect', 'ready', 'close', 'end'], sockets: true });
  assert.deepEqual(r, { tcp: each('tcp'), unix: each('unix') });
});

both('ioredis on lib sockets (TCP, Unix socket): enableAutoPipelining, 5,000 commands issued in one tick, then 64 SETs of 256 KiB at once and their GETs', { timeout: 15000, skip }, async (sc) => {
  const out: Record<string, unknown> = {};
  for (const tr of TRANSPORTS) {
    const c = await client(sc, tr, { enableAutoPipelining: true });
    const small = await Promise.all(Array.from({ length: 5000 }, (_, i) =>
      (i % 2 ? c.r.get(`${tr}:a${i - 1}`) : c.r.set(`${tr}:a${i}`, 'x'.repeat(i % 600)))));
    const sets = await Promise.all(Array.from({ length: 64 }, (_, i) => c.r.set(`${tr}:b${i}`, autoValue(i))));
    const gets = await Promise.all(Array.from({ length: 64 }, (_, i) => c.r.getBuffer(`${tr}:b${i}`)));
    const ok = await quit(c);
    out[tr] = {
      small: sha256(JSON.stringify(small)), sets: sets.every((x) => x === 'OK'),
      gets: sha256(gets.map((g) => (g ? sha256(g) : 'null')).join(',')), quit: ok, events: c.events, sockets: socketsOk(sc, c.made, 1),
    };
  }
  return out;
}, (r) => {
  const each = {
    small: sha256(JSON.stringify(Array.from({ length: 5000 }, (_, i) => (i % 2 ? 'x'.repeat((i - 1) % 600) : 'OK')))),
    sets: true, gets: sha256(Array.from({ length: 64 }, (_, i) => sha256(autoValue(i))).join(',')),
    quit: 'OK', events: ['connect', 'ready', 'close', 'end'], sockets: true,
  };
  assert.deepEqual(r, { tcp: each, unix: each });
});
/** The 256 KiB value i: a view into the 16 MiB value (different for every i). */
const autoValue = (i: number): Buffer => bigValue().subarray(i * 256 * KiB, (i + 1) * 256 * KiB);

const N = 5000;
/** Message i: mostly small, every 500th 64 KiB (crossing reads). */
function message(i: number): Buffer {
  return i % 500 === 499 ? Buffer.concat([Buffer.from(`big ${i} `), patternBuffer(60 + (i % 5), 64 * KiB)]) : Buffer.from(`msg ${i}`);
}

both('ioredis on lib sockets: pub/sub, 5,000 messages in order (subscriber on TCP, publisher on the Unix socket, and the other way round)', { timeout: 20000, skip }, async (sc) => {
  const out: Record<string, unknown> = {};
  for (const subTr of TRANSPORTS) {
    const sub = await client(sc, subTr);
    const pub = await client(sc, other(subTr));
    const channel = `ch.${subTr}`;
    const got: Buffer[] = [];
    sub.r.on('messageBuffer', (ch: Buffer, m: Buffer) => { if (ch.toString() === channel) got.push(m); });
    const subscribed = await sub.r.subscribe(channel);
    const receivers = await Promise.all(Array.from({ length: N }, (_, i) => pub.r.publish(channel, message(i))));
    await until(() => got.length >= N, 10000, `${N} messages`);
    await sleep(20);   // nothing more comes
    const order = createHash('sha256');
    for (const m of got) order.update(sha256(m));
    await sub.r.unsubscribe(channel);
    const okSub = await quit(sub);
    const okPub = await quit(pub);
    out[`sub ${subTr}`] = {
      subscribed, receivers: receivers.every((n) => n === 1), count: got.length, first: got[0].toString(),
      order: order.digest('hex'), bytes: got.reduce((n, m) => n + m.length, 0), quit: [okSub, okPub],
      events: [sub.events, pub.events], sockets: socketsOk(sc, sub.made, 1) && socketsOk(sc, pub.made, 1),
    };
  }
  return out;
}, (r) => {
  const each = pubsubExpected();
  assert.deepEqual(r, { 'sub tcp': each, 'sub unix': each });
});
const pubsubExpected = memo(() => {
  const order = createHash('sha256');
  let bytes = 0;
  for (let i = 0; i < N; i++) { const m = message(i); order.update(sha256(m)); bytes += m.length; }
  const ev = ['connect', 'ready', 'close', 'end'];
  return { subscribed: 1, receivers: true, count: N, first: 'msg 0', order: order.digest('hex'), bytes, quit: ['OK', 'OK'], events: [ev, ev], sockets: true };
});

both('ioredis on lib sockets (TCP, Unix socket): BLPOP times out on an empty list, and is woken by an RPUSH from the other transport', { timeout: 15000, skip }, async (sc) => {
  const out: Record<string, unknown> = {};
  for (const tr of TRANSPORTS) {
    const c = await client(sc, tr);
    const pusher = await client(sc, other(tr));
    const key = `q.${tr}`;
    await c.r.del(key, `empty.${tr}`);
    let t0 = Date.now();
    const empty = await c.r.blpop(`empty.${tr}`, 0.3);
    const waited = Date.now() - t0;
    t0 = Date.now();
    const popped = c.r.blpop(key, 5);
    await sleep(100);
    const pushed = await pusher.r.rpush(key, `hello over ${other(tr)}`, 'second');
    const woken = await popped;
    const wokenAfter = Date.now() - t0;
    const left = await c.r.lrange(key, 0, -1);
    const ok = [await quit(c), await quit(pusher)];
    out[tr] = {
      empty, timedOut: waited >= 280 && waited < 3000, pushed, woken, wokeInTime: wokenAfter >= 90 && wokenAfter < 3000,
      left, quit: ok, events: [c.events, pusher.events], sockets: socketsOk(sc, c.made, 1) && socketsOk(sc, pusher.made, 1),
    };
  }
  return out;
}, (r) => {
  const ev = ['connect', 'ready', 'close', 'end'];
  const each = (tr: Transport) => ({
    empty: null, timedOut: true, pushed: 2, woken: [`q.${tr}`, `hello over ${other(tr)}`], wokeInTime: true,
    left: ['second'], quit: ['OK', 'OK'], events: [ev, ev], sockets: true,
  });
  assert.deepEqual(r, { tcp: each('tcp'), unix: each('unix') });
});

both('ioredis on lib sockets (TCP, Unix socket): CLIENT KILL from another connection; ioredis reconnects on a new lib socket and carries on', { timeout: 15000, skip }, async (sc) => {
  const out: Record<string, unknown> = {};
  for (const tr of TRANSPORTS) {
    const c = await client(sc, tr, { retryStrategy: (times: number) => (times <= 3 ? 50 : null) });
    const admin = await client(sc, other(tr));
    const id = await c.r.client('ID');
    await c.r.set(`kill.${tr}`, 'kept');
    const killed = await admin.r.client('KILL', 'ID', String(id));
    await until(() => c.events.filter((e) => e === 'ready').length === 2, 5000, 'ioredis reconnected');
    const got = await c.r.get(`kill.${tr}`);
    const newId = (await c.r.client('ID')) !== id;
    const ok = [await quit(c), await quit(admin)];
    out[tr] = { killed, got, newId, quit: ok, events: c.events, sockets: socketsOk(sc, c.made, 2) && socketsOk(sc, admin.made, 1) };
  }
  return out;
}, (r) => {
  const each = {
    killed: 1, got: 'kept', newId: true, quit: ['OK', 'OK'],
    events: ['connect', 'ready', 'close', 'reconnecting', 'connect', 'ready', 'close', 'end'], sockets: true,
  };
  assert.deepEqual(r, { tcp: each, unix: each });
});

both('ioredis on lib sockets: connecting to a port nobody listens on, and to a Unix socket that does not exist, fails with the same error and events', { timeout: 10000, skip }, async (sc) => {
  const port = await freePort();
  const missing = `${srv().socketPath}.missing`;
  const out: Record<string, unknown> = {};
  for (const [name, where] of [['tcp', { port, host: '127.0.0.1' }], ['unix', { path: missing }]] as const) {
    const made: Made = { sockets: [] };
    const r = new Redis({ ...where, Connector: connectorFor(sc, made), connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    sc.defer(() => r.disconnect());
    const events: string[] = [];
    let err: Record<string, unknown> | null = null;
    r.on('error', (e: NodeJS.ErrnoException & { address?: string; port?: number }) => {
      events.push('error');
      err ??= { code: e.code, syscall: e.syscall, errno: e.errno, address: e.address, port: e.port === port ? 'the port' : e.port,
        message: e.message.replace(String(port), 'PORT') };
    });
    for (const ev of ['connect', 'ready', 'close', 'reconnecting', 'end']) r.on(ev, () => events.push(ev));
    const ping = await r.ping().then(() => 'answered', (e: Error) => e.message);
    await until(() => events.includes('end'), 5000, "ioredis' 'end'");
    const after = await r.ping().then(() => 'answered', (e: Error) => e.message);
    out[name] = { err, ping, after, events, status: r.status, sockets: socketsOk(sc, made, 1), destroyed: made.sockets.every((x) => x.destroyed) };
  }
  return out;
}, (r) => {
  const missing = `${srv().socketPath}.missing`;
  const each = { ping: 'Connection is closed.', after: 'Connection is closed.', events: ['error', 'close', 'end'], status: 'end', sockets: true, destroyed: true };
  assert.deepEqual(r, {
    tcp: { ...each, err: { code: 'ECONNREFUSED', syscall: 'connect', errno: -111, address: '127.0.0.1', port: 'the port', message: 'connect ECONNREFUSED 127.0.0.1:PORT' } },
    unix: { ...each, err: { code: 'ENOENT', syscall: 'connect', errno: -2, address: missing, port: undefined, message: `connect ENOENT ${missing}` } },
  });
});
