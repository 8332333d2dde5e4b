// Property test on the simulated network: for every seed, a random scenario (network knobs, a
// server, several clients with random behaviours and faults) runs on a fresh sim stack, and
// invariants are checked for every socket and every byte stream:
//   1. bytes: what a receiver got is a prefix of what the sender wrote; all of it when the
//      receiver saw 'end' from a sender that was not destroyed, and on every clean connection;
//   2. events: 'close' exactly once and nothing after it; 'end', 'error', 'connect', 'finish'
//      at most once and before 'close'; no 'data' after 'end' or while paused; every write
//      callback called exactly once; errors only where the scenario explains them;
//   3. memory: the core's slabs stay under a bound per live socket; nothing left at the end;
//   4. the core never traps;
//   5. the simulated network goes quiet (a wall-clock guard fails a seed that hangs).
// The scenario is derived from the seed by this file's own PRNG; a failure prints the seed and
// the scenario. Reproduce one seed with WASINET_SEED=n (prints the scenario and the event logs).
// WASINET_SEEDS (default 3000, about 50 s here) and WASINET_FIRST_SEED (default 1) choose the range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStack, type StackApi } from '../../host/index.js';
import { stackOf } from '../../host/net/create.js';

const SEEDS = Number(process.env.WASINET_SEEDS ?? 3000);
const FIRST_SEED = Number(process.env.WASINET_FIRST_SEED ?? 1);
const ONLY = process.env.WASINET_SEED !== undefined ? Number(process.env.WASINET_SEED) : null;
const GROUPS = 10;
/** Wall-clock limit per seed: a healthy seed takes tens of ms. */
const GUARD_MS = 20000;
/** Quiet rounds: run() resolved and a few turns passed with nothing scheduled. */
const MAX_ROUNDS = 100;
/** Rough number of network events a seed may spend on payload (sizes are drawn to fit). */
const EVENT_BUDGET = 80000;

// Memory bound, per live socket of the core (assembly/socket.ts, assembly/queue.ts):
//  - the send queue holds at most SEND_CAP = 64 KiB; its first slab may be consumed up to
//    SLAB - 1 bytes, so it spans at most ceil((16383 + 65536) / 16384) = 5 slabs;
//  - the receive queue only holds bytes that arrive while the consumer does not want them.
//    The documented cap is RECV_CAP = 1 MiB (65 slabs), but the sim delivers only between
//    READ_START and READ_STOP, one read chunk per onData (<= 64 KiB: the largest `chunk` these
//    scenarios configure), so at most one chunk waits there: again at most 5 slabs.
// Listeners and timers hold no slabs. So slabs() <= 10 * liveSockets() at every instant.
const SLAB = 16384;
const SLABS_PER_SOCKET = 5 + 5;

// ---------------------------------------------------------------- a PRNG of our own

class Prng {
  #s: number;
  constructor(seed: number) { this.#s = (seed ^ 0x5bd1e995) >>> 0; }
  /** splitmix32 */
  next(): number {
    this.#s = (this.#s + 0x9e3779b9) >>> 0;
    let t = this.#s ^ (this.#s >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return ((t ^ (t >>> 15)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)]; }
  /** Log-uniform integer in [lo, hi] (lo >= 1): small and large sizes both common. */
  logInt(lo: number, hi: number): number {
    if (hi <= lo) return lo;
    return Math.min(hi, Math.floor(Math.exp(Math.log(lo) + this.next() * (Math.log(hi + 1) - Math.log(lo)))));
  }
}

/** `n` bytes of a deterministic stream for `seed` (xorshift32 words). */
function patternBytes(seed: number, n: number): Buffer {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = (Math.imul(seed, 2654435761) >>> 0) || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(words.buffer, 0, n);
}

// ---------------------------------------------------------------- scenarios

interface Knobs {
  latency: number | [number, number];
  chunk: [number, number];
  sndbuf: number;
  rcvbuf: number;
  refuse: number;
  reset: number;
}

type DestroyKind = 'destroy' | 'destroyErr' | 'reset';

/** What one end of a connection does. Times are virtual ms. */
interface SidePlan {
  send: number;               // bytes of its own stream (client; server in 'stream' mode)
  writeMax: number;           // write sizes are drawn in [1, writeMax]
  callbacks: boolean;         // pass a callback to every write
  backpressure: boolean;      // wait for 'drain' when write() says false
  endWithLast: boolean;       // end(lastChunk) rather than write(lastChunk); end()
  endDelay: number;           // -1: end as soon as everything is written; else after this delay
  pauses: [number, number][]; // [at, duration] of pause()/resume(), from the side's start
  destroy: null | { kind: DestroyKind; atMs: number } | { kind: DestroyKind; atBytes: number };
  idle: null | { ms: number; action: 'end' | 'destroy'; early: boolean };
  rng: number;                // seed of run-time choices (write sizes)
  stream: number;             // seed of the pattern it sends
}

interface ClientPlan {
  target: 'server' | 'unused';
  start: number;              // delay before connect()
  allowHalfOpen: boolean;
  writeEarly: boolean;        // start writing right after connect(), before 'connect'
  endOnPeerEnd: boolean;      // end() when the peer's 'end' comes (endDelay is the fallback)
  side: SidePlan;
}

interface ConnPlan {
  mode: 'echo' | 'count' | 'stream';
  side: SidePlan;
}

interface Scenario {
  seed: number;
  knobs: Knobs;
  server: {
    port: number;
    allowHalfOpen: boolean;
    pauseOnConnect: boolean;
    resumeAfter: number;
    closeWhen: 'connected' | 'closed';
    conns: ConnPlan[];          // by order of acceptance
  };
  clients: ClientPlan[];
}

function genKnobs(r: Prng): Knobs {
  const latency: number | [number, number] = r.chance(0.5) ? r.int(0, 20) : (() => {
    const lo = r.int(0, 10);
    return [lo, lo + r.int(1, 50)] as [number, number];
  })();
  const c = r.next();
  const chunk: [number, number] = c < 0.15 ? [1, r.int(1, 64)]
    : c < 0.55 ? (() => { const lo = r.int(1, 2048); return [lo, lo + r.int(0, 16384)] as [number, number]; })()
    : [r.int(1, 4096), 65536];
  const s = r.next();
  const sndbuf = s < 0.15 ? 1 : s < 0.35 ? r.logInt(2, 8192) : 65536;
  const rcvbuf = r.chance(0.2) ? r.logInt(1, 65536) : 131072;
  const refuse = r.chance(0.12) ? r.int(5, 50) / 100 : 0;
  const reset = r.chance(0.12) ? r.int(1, 50) / 1000 : 0;
  return { latency, chunk, sndbuf, rcvbuf, refuse, reset };
}

/** Bytes a stream may carry so that the seed stays within its event budget. */
function sizeCap(k: Knobs, streams: number, writeMax: number): number {
  const chunkAvg = (k.chunk[0] + k.chunk[1]) / 2;
  // Each piece on the wire costs about three events (pump, arrive, deliver); a piece is at most
  // a read chunk, the send buffer, the receive buffer and (often) one write.
  const piece = Math.max(1, Math.min(chunkAvg, k.sndbuf, k.rcvbuf, (writeMax + 1) / 2));
  return Math.max(64, Math.min(400 * 1024, Math.floor((EVENT_BUDGET / streams / 3) * piece)));
}

function genSide(r: Prng, k: Knobs, streams: number, faults: boolean): SidePlan {
  // 400000: the whole stream in one write (a request larger than credit + the core's queue).
  const writeMax = r.pick([1, 16, 512, 4096, 16384, 65536, 200000, 400000]);
  const cap = sizeCap(k, streams, writeMax);
  const z = r.next();
  const send = z < 0.1 ? 0 : z < 0.35 ? r.logInt(1, Math.min(cap, 4096)) : r.logInt(1, cap);
  const pauses: [number, number][] = [];
  const np = r.chance(0.4) ? r.int(1, 3) : 0;
  for (let i = 0; i < np; i++) pauses.push([r.int(0, 150), r.int(1, 120)]);
  let destroy: SidePlan['destroy'] = null;
  if (faults && r.chance(0.14)) {
    const kind: DestroyKind = r.pick(['destroy', 'destroy', 'destroyErr', 'reset', 'reset'] as const);
    destroy = r.chance(0.5) ? { kind, atMs: r.int(0, 200) } : { kind, atBytes: r.logInt(1, Math.max(1, cap)) };
  }
  const idle = faults && r.chance(0.14)
    ? { ms: r.int(1, 150), action: r.pick(['end', 'destroy'] as const), early: r.chance(0.5) } : null;
  return {
    send,
    writeMax,
    callbacks: r.chance(0.4),
    backpressure: r.chance(0.75),
    endWithLast: r.chance(0.2),
    endDelay: r.chance(0.6) ? -1 : r.int(0, 200),
    pauses,
    destroy,
    idle,
    rng: r.int(1, 0x7fffffff),
    stream: r.int(1, 0x7fffffff),
  };
}

export function generate(seed: number): Scenario {
  const r = new Prng(seed);
  const knobs = genKnobs(r);
  const nServer = r.int(2, 4);
  const unused = r.chance(0.15) ? 1 : 0;
  const streams = nServer * 2;
  const conns: ConnPlan[] = [];
  for (let i = 0; i < nServer; i++) {
    const m = r.next();
    conns.push({ mode: m < 0.4 ? 'echo' : m < 0.7 ? 'count' : 'stream', side: genSide(r, knobs, streams, true) });
  }
  const clients: ClientPlan[] = [];
  for (let i = 0; i < nServer + unused; i++) {
    const target = i < nServer ? 'server' : 'unused';
    clients.push({
      target,
      start: r.chance(0.5) ? 0 : r.int(0, 30),
      allowHalfOpen: r.chance(0.2),
      writeEarly: r.chance(0.3),
      endOnPeerEnd: r.chance(0.15),
      side: genSide(r, knobs, streams, true),
    });
  }
  // Put the unused-port client at a random position.
  if (unused) {
    const j = r.int(0, clients.length - 1);
    [clients[j], clients[clients.length - 1]] = [clients[clients.length - 1], clients[j]];
  }
  return {
    seed,
    knobs,
    server: {
      port: r.chance(0.5) ? 0 : r.int(1000, 9000),
      allowHalfOpen: r.chance(0.3),
      pauseOnConnect: r.chance(0.2),
      resumeAfter: r.int(0, 60),
      closeWhen: r.chance(0.5) ? 'connected' : 'closed',
      conns,
    },
    clients,
  };
}

// ---------------------------------------------------------------- observing sockets

type Sock = ReturnType<StackApi['connect']>;

const WATCHED = ['connect', 'ready', 'data', 'end', 'finish', 'error', 'timeout', 'close', 'drain'];

/** Everything observed about one socket. */
class Track {
  log: string[] = [];
  order: string[] = []; // event names but 'data' and 'drain', in order
  counts: Record<string, number> = {};
  closed = false;
  errors: Error[] = [];
  recv: Buffer[] = [];
  recvLen = 0;
  sent: Buffer[] = [];
  sentLen = 0;
  destroyed: DestroyKind | 'timeout' | null = null; // a destroy we asked for, on a live socket
  endCalled = false;
  finished = false;
  paused = false;
  cbCalls: number[] = [];
  cbErrors = 0;
  cbOk = 0;
  localPort: number | undefined;
  remotePort: number | undefined;
  wroteFalse = false;
  halfOpenData = false;
  timeouts = 0;
  constructor(readonly label: string, readonly v: string[]) {}
  violation(msg: string): void { this.v.push(`${this.label}: ${msg}`); }
  concat(which: 'recv' | 'sent'): Buffer { return Buffer.concat(this[which]); }
}

interface Ctx {
  sc: Scenario;
  net: StackApi;
  core: ReturnType<typeof stackOf>['core'];
  v: string[];
  mem: { max: number; maxRatio: number; samples: number };
  cov: Record<string, number>;
  verbose: boolean;
}

function sample(ctx: Ctx, where: string): void {
  const x = ctx.core.exports;
  if (ctx.core.dead) return;
  const slabs = x.slabs();
  const live = x.liveSockets();
  ctx.mem.samples++;
  if (slabs > ctx.mem.max) ctx.mem.max = slabs;
  if (live > 0 && slabs / live > ctx.mem.maxRatio) ctx.mem.maxRatio = slabs / live;
  if (slabs > SLABS_PER_SOCKET * live) {
    ctx.v.push(`memory: ${slabs} slabs (${slabs * SLAB} bytes) with ${live} live sockets, bound ` +
      `${SLABS_PER_SOCKET * live} (at ${where}, t=${ctx.net.now()})`);
  }
}

/** Runs `fn` as an event handler: a throw (ours or the library's) is a violation, not a crash. */
function guard(ctx: Ctx, what: string, fn: () => void): void {
  try { fn(); } catch (err) {
    ctx.v.push(`${what} threw: ${(err as Error)?.stack ?? String(err)}`);
  }
}

function watch(ctx: Ctx, s: Sock, t: Track): void {
  for (const ev of WATCHED) {
    s.on(ev, (arg: unknown) => {
      t.counts[ev] = (t.counts[ev] ?? 0) + 1;
      if (ev !== 'data' && ev !== 'drain') t.order.push(ev);
      if (ctx.verbose) {
        const d = ev === 'data' ? ` ${(arg as Buffer).length}` : ev === 'error' ? ` ${(arg as NodeJS.ErrnoException).code ?? (arg as Error).message}`
          : ev === 'close' ? ` ${String(arg)}` : '';
        t.log.push(`${ev}${d}@${ctx.net.now()}`);
      } else if (ev !== 'data' && ev !== 'drain') {
        t.log.push(ev === 'error' ? `error(${(arg as NodeJS.ErrnoException).code ?? (arg as Error).message})` : ev);
      }
      if (t.closed) t.violation(`'${ev}' after 'close'`);
      switch (ev) {
        case 'connect':
          if (t.counts.connect > 1) t.violation(`'connect' ${t.counts.connect} times`);
          t.localPort = s.localPort;
          sample(ctx, `${t.label} connect`);
          break;
        case 'data': {
          const b = arg as Buffer;
          if (t.counts.end) t.violation(`'data' after 'end'`);
          if (t.paused) t.violation(`'data' while paused`);
          if (t.finished || t.endCalled) t.halfOpenData = true;
          t.recv.push(b);
          t.recvLen += b.length;
          sample(ctx, `${t.label} data`);
          break;
        }
        case 'end':
          if (t.counts.end > 1) t.violation(`'end' ${t.counts.end} times`);
          break;
        case 'finish':
          t.finished = true;
          if (t.counts.finish > 1) t.violation(`'finish' ${t.counts.finish} times`);
          break;
        case 'error': {
          const e = arg as Error;
          t.errors.push(e);
          if (t.counts.error > 1) t.violation(`'error' ${t.counts.error} times (${t.errors.map(describe).join(', ')})`);
          if (e?.name === 'CoreTrap') ctx.v.push(`core trapped: ${e.message}`);
          break;
        }
        case 'timeout':
          t.timeouts++;
          break;
        case 'close':
          t.closed = true;
          if (arg !== (t.errors.length > 0)) t.violation(`'close' hadError=${String(arg)} with ${t.errors.length} errors`);
          sample(ctx, `${t.label} close`);
          break;
        case 'drain':
          sample(ctx, `${t.label} drain`);
          break;
      }
    });
  }
}

function describe(e: Error): string {
  const x = e as NodeJS.ErrnoException;
  return `${x.code ?? e.name}: ${e.message}`;
}

/** pause()/resume() with several reasons to be paused (user pauses, backpressure, pauseOnConnect). */
class Pauser {
  #reasons = new Set<string>();
  constructor(readonly s: Sock, readonly t: Track, initial: string | null) {
    if (initial) { this.#reasons.add(initial); t.paused = true; }
  }
  hold(reason: string): void {
    this.#reasons.add(reason);
    this.t.paused = true;
    this.s.pause();
  }
  release(reason: string): void {
    if (!this.#reasons.delete(reason) || this.#reasons.size > 0) return;
    this.t.paused = false;
    this.s.resume();
  }
}

/** Planned faults of one side: pauses, destroy, idle timeout. */
function armSide(ctx: Ctx, s: Sock, t: Track, p: SidePlan, pauser: Pauser): void {
  const { net } = ctx;
  p.pauses.forEach(([at, dur], i) => {
    net.setTimeout(() => guard(ctx, `${t.label} pause`, () => {
      if (s.destroyed) return;
      ctx.cov.pauseResume++;
      pauser.hold(`user${i}`);
      net.setTimeout(() => guard(ctx, `${t.label} resume`, () => pauser.release(`user${i}`)), dur);
    }), at);
  });
  if (p.destroy && 'atMs' in p.destroy) {
    const kind = p.destroy.kind;
    net.setTimeout(() => guard(ctx, `${t.label} destroy`, () => doDestroy(ctx, s, t, kind)), p.destroy.atMs);
  }
  if (p.idle && !p.idle.early) setIdle(ctx, s, t, p);
}

function setIdle(ctx: Ctx, s: Sock, t: Track, p: SidePlan): void {
  const idle = p.idle!;
  s.setTimeout(idle.ms);
  s.on('timeout', () => guard(ctx, `${t.label} timeout`, () => {
    if (s.destroyed) return;
    if (idle.action === 'end') {
      if (!s.writableEnded) { ctx.cov.idleEnd++; t.endCalled = true; s.end(); }
    } else {
      ctx.cov.idleDestroy++;
      t.destroyed ??= 'timeout';
      s.destroy();
    }
  }));
}

function doDestroy(ctx: Ctx, s: Sock, t: Track, kind: DestroyKind): void {
  if (s.destroyed) return;
  t.destroyed ??= kind;
  if (s.writableLength > 0) ctx.cov.destroyMidWrite++;
  if (kind === 'destroy') { ctx.cov.destroy++; s.destroy(); }
  else if (kind === 'destroyErr') { ctx.cov.destroyErr++; s.destroy(new Error('planned failure')); }
  else { ctx.cov.resetAndDestroy++; s.resetAndDestroy(); }
}

/**
 * Writes `data` in random sizes (with backpressure if planned), then calls `done`. Stops when the
 * socket is destroyed or its writable side ended (by us, or by the peer's FIN without
 * allowHalfOpen). Records exactly the bytes handed to write()/end().
 */
function sendStream(ctx: Ctx, s: Sock, t: Track, p: SidePlan, data: Buffer, done: (ended: boolean) => void): void {
  const r = new Prng(p.rng);
  let off = 0;
  const step = (): void => guard(ctx, `${t.label} send`, () => {
    for (let guardN = 0; off < data.length; guardN++) {
      if (guardN > 1e6) throw new Error('sendStream: runaway loop');
      if (s.destroyed || s.writableEnded) return;
      const n = Math.min(r.int(1, p.writeMax), data.length - off);
      const chunk = data.subarray(off, off + n);
      off += n;
      if (p.endWithLast && off === data.length) {
        t.sent.push(chunk); t.sentLen += n;
        t.endCalled = true;
        s.end(chunk);
        done(true);
        return;
      }
      if (!write(ctx, s, t, p.callbacks, chunk) && p.backpressure) {
        s.once('drain', step);
        return;
      }
    }
    done(false);
  });
  step();
}

/** One write, recorded, with a checked callback if asked. */
function write(ctx: Ctx, s: Sock, t: Track, withCb: boolean, chunk: Buffer): boolean {
  t.sent.push(chunk);
  t.sentLen += chunk.length;
  let ok: boolean;
  if (withCb) {
    ctx.cov.writeCallbacks++;
    const i = t.cbCalls.length;
    t.cbCalls.push(0);
    ok = s.write(chunk, (err?: Error | null) => {
      t.cbCalls[i]++;
      if (t.cbCalls[i] > 1) t.violation(`write callback #${i} called ${t.cbCalls[i]} times`);
      if (err) t.cbErrors++;
      else {
        if (i !== t.cbOk) t.violation(`write callback #${i} succeeded after ${t.cbOk} successes (out of order)`);
        t.cbOk++;
      }
      sample(ctx, `${t.label} write callback`);
    });
  } else {
    ok = s.write(chunk);
  }
  if (!ok) { t.wroteFalse = true; ctx.cov.backpressure++; }
  return ok;
}

function endSoon(ctx: Ctx, s: Sock, t: Track, delay: number): void {
  const end = () => guard(ctx, `${t.label} end`, () => {
    if (s.destroyed || s.writableEnded) return;
    t.endCalled = true;
    s.end();
  });
  if (delay < 0) end();
  else ctx.net.setTimeout(end, delay);
}

// ---------------------------------------------------------------- one seed

interface ClientRec { plan: ClientPlan; s: Sock; t: Track }
interface ServerRec { plan: ConnPlan; s: Sock; t: Track; countSent: number | null }

interface SeedResult {
  seed: number;
  violations: string[];
  scenario: Scenario;
  logs: string[];
  events: number;
  mem: Ctx['mem'];
  covered: Record<string, boolean>;
}

const COVERAGE_KEYS = [
  'oneByteCredit', 'smallSndbuf', 'smallRcvbuf', 'tinyChunks', 'latencyRange', 'refusedByKnob', 'unusedPortRefused',
  'injectedReset', 'econnreset', 'epipe', 'destroy', 'destroyErr', 'resetAndDestroy', 'idleEnd', 'idleDestroy',
  'halfClose', 'allowHalfOpenServer', 'allowHalfOpenClient', 'pauseOnConnect', 'pauseResume', 'backpressure',
  'writeCallbacks', 'writeEarly', 'echo', 'count', 'stream', 'serverCloseWithOpenConnections', 'cleanConnection',
  'uncleanConnection', 'destroyBeforeConnect', 'resetBeforeConnect', 'destroyMidWrite',
] as const;
/**
 * Reported but not required: EPIPE needs a write to land between a reset and its error, and a
 * reset overtaking the connect needs a destroy in the few ms after acceptance.
 */
const INFO_ONLY = new Set<string>(['epipe', 'resetBeforeConnect']);

export async function runSeed(seed: number, verbose = false): Promise<SeedResult> {
  const sc = generate(seed);
  const v: string[] = [];
  const net = createStack({ backend: 'sim', seed, ...sc.knobs });
  const core = stackOf(net).core;
  const cov: Record<string, number> = Object.fromEntries(COVERAGE_KEYS.map((k) => [k, 0]));
  const ctx: Ctx = { sc, net, core, v, mem: { max: 0, maxRatio: 0, samples: 0 }, cov, verbose };
  const clients: ClientRec[] = [];
  const servers: ServerRec[] = [];
  const serverEvents: string[] = [];
  let serverCloses = 0;
  let serverClosed = false;

  // ---- the server
  const server = net.createServer({ allowHalfOpen: sc.server.allowHalfOpen, pauseOnConnect: sc.server.pauseOnConnect });
  for (const ev of ['listening', 'close', 'error', 'drop']) {
    server.on(ev, (e?: Error) => {
      serverEvents.push(ev);
      if (ev === 'close') serverCloses++;
      if (ev === 'error') v.push(`server: unexpected 'error' ${describe(e!)}`);
      if (ev === 'drop') v.push(`server: unexpected 'drop'`);
    });
  }
  server.on('connection', (s: Sock) => guard(ctx, 'server connection', () => {
    const idx = servers.length;
    const plan = sc.server.conns[idx % sc.server.conns.length];
    const t = new Track(`server#${idx}(${plan.mode})`, v);
    const rec: ServerRec = { plan, s, t, countSent: null };
    servers.push(rec);
    watch(ctx, s, t);
    if (serverClosed) v.push(`server#${idx}: connection after server.close()`);
    t.remotePort = s.remotePort;
    s.on('error', () => {});
    const p = plan.side;
    const pauser = new Pauser(s, t, sc.server.pauseOnConnect ? 'pauseOnConnect' : null);
    if (sc.server.pauseOnConnect) {
      ctx.cov.pauseOnConnect++;
      net.setTimeout(() => guard(ctx, `${t.label} resume`, () => pauser.release('pauseOnConnect')), sc.server.resumeAfter);
    }
    ctx.cov[plan.mode]++;
    if (p.idle) setIdle(ctx, s, t, p);
    armSide(ctx, s, t, { ...p, idle: null }, pauser);
    s.on('data', (d: Buffer) => guard(ctx, `${t.label} data`, () => {
      if (p.destroy && 'atBytes' in p.destroy && t.recvLen >= p.destroy.atBytes) doDestroy(ctx, s, t, p.destroy.kind);
      if (plan.mode !== 'echo' || s.destroyed || s.writableEnded) return;
      if (!write(ctx, s, t, p.callbacks, d) && p.backpressure) {
        pauser.hold('drain');
        s.once('drain', () => guard(ctx, `${t.label} drain`, () => pauser.release('drain')));
      }
    }));
    s.on('end', () => guard(ctx, `${t.label} end`, () => {
      if (s.destroyed || s.writableEnded) return;
      if (plan.mode === 'echo') endSoon(ctx, s, t, -1);
      else if (plan.mode === 'count') {
        const answer = Buffer.alloc(8);
        answer.writeDoubleLE(t.recvLen);
        rec.countSent = t.recvLen;
        write(ctx, s, t, p.callbacks, answer);
        endSoon(ctx, s, t, -1);
      }
      // 'stream' ends when its stream is written (or automatically without allowHalfOpen).
    }));
    if (plan.mode === 'stream') {
      sendStream(ctx, s, t, p, patternBytes(p.stream, p.send), (ended) => { if (!ended) endSoon(ctx, s, t, p.endDelay); });
    }
  }));
  // With a host, Node (and the sim) resolve it first: the port is known once 'listening' came.
  await new Promise<void>((resolve) => server.listen(sc.server.port, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number } | null)?.port ?? sc.server.port;
  if (port === 1) v.push('server listens on the unused port');

  const closeServer = () => guard(ctx, 'server close', () => {
    if (serverClosed) return;
    serverClosed = true;
    if (servers.some((r) => !r.s.destroyed)) ctx.cov.serverCloseWithOpenConnections++;
    server.close();
  });
  let outcomes = 0;
  let closes = 0;
  const toServer = sc.clients.filter((c) => c.target === 'server').length;
  const outcome = () => {
    outcomes++;
    if (sc.server.closeWhen === 'connected' && outcomes === toServer) closeServer();
  };

  // ---- the clients
  sc.clients.forEach((plan, i) => {
    net.setTimeout(() => guard(ctx, `client#${i} start`, () => {
      const t = new Track(`client#${i}(${plan.target})`, v);
      const s = net.connect({ port: plan.target === 'server' ? port : 1, host: '127.0.0.1', allowHalfOpen: plan.allowHalfOpen });
      const rec: ClientRec = { plan, s, t };
      clients.push(rec);
      watch(ctx, s, t);
      const p = plan.side;
      const pauser = new Pauser(s, t, null);
      let settled = false;
      const settle = () => { if (!settled && plan.target === 'server') { settled = true; outcome(); } };
      s.on('connect', settle);
      s.on('close', () => {
        settle();
        if (++closes === sc.clients.length && sc.server.closeWhen === 'closed') closeServer();
      });
      s.on('error', () => {});
      if (plan.allowHalfOpen) ctx.cov.allowHalfOpenClient++;
      if (p.idle?.early) setIdle(ctx, s, t, p);
      armSide(ctx, s, t, p, pauser);
      s.on('data', () => guard(ctx, `${t.label} data`, () => {
        if (p.destroy && 'atBytes' in p.destroy && t.recvLen >= p.destroy.atBytes) doDestroy(ctx, s, t, p.destroy.kind);
      }));
      let sent = false;
      let peerEnded = false;
      const maybeEnd = () => {
        if (!sent) return;
        if (plan.endOnPeerEnd && !peerEnded) {
          endSoon(ctx, s, t, p.endDelay < 0 ? 200 : p.endDelay); // fallback if the peer never ends
          return;
        }
        endSoon(ctx, s, t, plan.endOnPeerEnd ? -1 : p.endDelay);
      };
      s.on('end', () => { peerEnded = true; if (plan.endOnPeerEnd) maybeEnd(); });
      const start = () => sendStream(ctx, s, t, p, patternBytes(p.stream, p.send), (ended) => {
        sent = true;
        if (!ended) maybeEnd();
      });
      if (plan.writeEarly) { ctx.cov.writeEarly++; start(); }
      else s.once('connect', () => start());
    }), plan.start);
  });

  // ---- run until quiet, with a wall-clock guard
  const quiet = async (): Promise<void> => {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      await net.run();
      for (let k = 0; k < 4; k++) await new Promise((r) => setImmediate(r));
      if (net.network!.pending === 0) return;
    }
    throw new Error(`network not quiet after ${MAX_ROUNDS} rounds`);
  };
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), GUARD_MS); });
  let res: 'ok' | 'hung' | Error;
  try {
    res = await Promise.race([quiet().then(() => 'ok' as const, (e: Error) => e), hung]);
  } finally {
    clearTimeout(timer);
  }
  if (res === 'hung' || res instanceof Error) {
    v.push(res === 'hung' ? `hang: the network did not go quiet within ${GUARD_MS} ms of wall time ` +
      `(virtual t=${net.now()}, ${net.network!.stats.events} events, ${net.network!.pending} pending)` : String(res));
    // Stop the runaway network: nothing new gets scheduled, the queue drains.
    const dead = { at: 0, key: 0, seq: 0, run: () => {}, dead: true };
    (net.network as unknown as { schedule: () => unknown }).schedule = () => dead;
  }

  // ---- invariants
  if (core.dead) v.push(`core trapped: ${core.dead.message}`);
  const x = core.exports;
  if (!core.dead) {
    if (x.liveSockets() !== 0) v.push(`liveSockets() = ${x.liveSockets()} at the end`);
    if (x.liveListeners() !== 0) v.push(`liveListeners() = ${x.liveListeners()} at the end`);
    if (x.slabs() !== 0) v.push(`slabs() = ${x.slabs()} at the end`);
  }
  if (clients.length !== sc.clients.length) v.push(`${clients.length} of ${sc.clients.length} clients started`);
  if (!serverClosed) v.push('server.close() never called (a client never settled)');
  if (serverCloses !== 1) v.push(`server emitted 'close' ${serverCloses} times`);
  if (serverEvents.filter((e) => e === 'listening').length !== 1) v.push(`server events: ${serverEvents.join(' ')}`);

  const all = [...clients.map((c) => c.t), ...servers.map((r) => r.t)];
  for (const t of all) {
    const c = (ev: string) => t.counts[ev] ?? 0;
    if (c('close') !== 1) t.violation(`'close' emitted ${c('close')} times (events: ${t.log.join(' ')})`);
    for (const ev of ['end', 'error', 'connect', 'finish']) {
      if (c(ev) > 1) continue; // reported when it happened
      const i = t.order.indexOf(ev);
      const j = t.order.indexOf('close');
      if (i >= 0 && j >= 0 && i > j) t.violation(`'${ev}' after 'close'`);
    }
    const uncalled = t.cbCalls.flatMap((n, i) => (n === 0 ? [i] : []));
    if (uncalled.length > 0) {
      t.violation(`${uncalled.length} of ${t.cbCalls.length} write callbacks never called (#${uncalled.slice(0, 5).join(', #')}` +
        `${uncalled.length > 5 ? ', …' : ''}; events: ${t.order.join(' ')})`);
    }
    for (const e of t.errors) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET') cov.econnreset++;
      if (code === 'EPIPE') cov.epipe++;
    }
    if (t.halfOpenData) cov.halfClose++;
  }

  const explained = (t: Track, other: Track | null): boolean =>
    t.destroyed !== null || (other !== null && other.destroyed !== null) || sc.knobs.reset > 0;

  // Pair clients and server sockets by port.
  const byPort = new Map<number, ServerRec>();
  for (const r of servers) {
    if (r.t.remotePort === undefined) r.t.violation('no remotePort');
    else if (byPort.has(r.t.remotePort)) r.t.violation(`two server sockets with remote port ${r.t.remotePort}`);
    else byPort.set(r.t.remotePort, r);
  }
  const paired = new Set<ServerRec>();
  const unpaired: ClientRec[] = [];
  for (const cl of clients) {
    const r = cl.plan.target === 'server' && cl.t.localPort !== undefined ? byPort.get(cl.t.localPort) : undefined;
    if (r) { paired.add(r); checkConnection(ctx, cl, r, explained); } else unpaired.push(cl);
  }
  // Server sockets whose client gave up before it learned of the connection (or that we reset
  // before the client's 'connect' came): they carry no byte.
  const orphans = servers.filter((r) => !paired.has(r));
  for (const r of orphans) {
    if (r.t.recvLen !== 0) r.t.violation(`received ${r.t.recvLen} bytes from a client that never connected`);
  }
  // An accepted socket we destroyed before its client learned of the connection: the sim may
  // deliver the reset before the connect completes (the client fails with ECONNRESET).
  let resetsBeforeConnect = orphans.filter((r) => r.t.destroyed !== null).length;
  for (const { t, plan } of unpaired) {
    const errCodes = t.errors.map((e) => (e as NodeJS.ErrnoException).code ?? e.message);
    const planned = t.destroyed === 'destroyErr' ? ['planned failure'] : [];
    const unexpected = (allowed: string[]) => errCodes.filter((c) => !allowed.includes(c) && !planned.includes(c));
    if (t.counts.connect) {
      t.violation(plan.target === 'unused' ? 'connected to a port nobody listens on'
        : `connected (local port ${t.localPort}) but no server socket matches`);
      continue;
    }
    if (t.recvLen !== 0) t.violation(`received ${t.recvLen} bytes without connecting`);
    if (plan.target === 'unused') {
      if (errCodes.includes('ECONNREFUSED')) cov.unusedPortRefused++;
      else if (t.destroyed === null) t.violation(`expected ECONNREFUSED, got [${errCodes.join(', ')}]`);
      if (unexpected(['ECONNREFUSED']).length > 0) t.violation(`unexpected errors [${errCodes.join(', ')}]`);
      continue;
    }
    // Never connected: refused (refuse knob), destroyed before 'connect', or reset by the peer.
    if (errCodes.includes('ECONNREFUSED')) {
      if (sc.knobs.refuse > 0) cov.refusedByKnob++;
      else t.violation('ECONNREFUSED with refuse = 0');
    } else if (errCodes.includes('ECONNRESET') && (resetsBeforeConnect > 0 || sc.knobs.reset > 0)) {
      resetsBeforeConnect--;
      cov.resetBeforeConnect++;
    } else if (t.destroyed !== null) {
      cov.destroyBeforeConnect++;
    } else {
      t.violation(`never connected, not destroyed, errors [${errCodes.join(', ')}]`);
    }
    if (unexpected(['ECONNREFUSED', 'ECONNRESET']).length > 0) t.violation(`unexpected errors [${errCodes.join(', ')}]`);
  }

  // ---- coverage of this seed
  const k = sc.knobs;
  const st = net.network!.stats;
  if (k.sndbuf === 1 && st.bytes > 0) cov.oneByteCredit++;
  if (k.sndbuf > 1 && k.sndbuf < 65536 && st.bytes > 0) cov.smallSndbuf++;
  if (k.rcvbuf < 131072 && st.bytes > 0) cov.smallRcvbuf++;
  if (k.chunk[1] <= 64 && st.bytes > 0) cov.tinyChunks++;
  if (Array.isArray(k.latency)) cov.latencyRange++;
  if (st.injectedResets > 0) cov.injectedReset++;
  if (sc.server.allowHalfOpen && servers.length > 0) cov.allowHalfOpenServer++;

  const logs = all.map((t) => `${t.label} [${t.destroyed ?? '-'}] sent=${t.sentLen} recv=${t.recvLen}: ${t.log.join(' ')}`);
  if (verbose) {
    logs.push(`stats ${JSON.stringify(st)} memory ${JSON.stringify(ctx.mem)} t=${net.now()}`);
  }
  const covered = Object.fromEntries(COVERAGE_KEYS.map((key) => [key, cov[key] > 0]));
  return { seed, violations: v, scenario: sc, logs, events: st.events, mem: ctx.mem, covered };
}

/** Bytes, events and errors of one client and the server socket that accepted it. */
function checkConnection(ctx: Ctx, cl: ClientRec, r: ServerRec,
  explained: (t: Track, other: Track | null) => boolean): void {
  const a = cl.t;
  const b = r.t;
  const clean = a.destroyed === null && b.destroyed === null && a.errors.length === 0 && b.errors.length === 0;
  if (clean) ctx.cov.cleanConnection++;
  else ctx.cov.uncleanConnection++;
  for (const [t, o] of [[a, b], [b, a]] as const) {
    if (t.errors.length > 0 && !explained(t, o)) {
      t.violation(`unexplained error ${t.errors.map(describe).join(', ')} (no destroy on either side, reset = 0)`);
    }
    if (clean) {
      if (!t.counts.end) t.violation(`clean connection but no 'end' (events: ${t.log.join(' ')})`);
      if (t.cbErrors > 0) t.violation(`${t.cbErrors} write callbacks failed on a clean connection`);
    }
  }
  stream(ctx, a, b, clean, `${a.label} -> ${b.label}`);
  stream(ctx, b, a, clean, `${b.label} -> ${a.label}`);
  if (r.plan.mode === 'echo') {
    // What the server wrote is what it read (a prefix of it, if its writes were cut off).
    const got = b.concat('recv');
    const wrote = b.concat('sent');
    if (wrote.length > got.length || !got.subarray(0, wrote.length).equals(wrote)) {
      b.violation(`echo wrote ${wrote.length} bytes that are not a prefix of the ${got.length} it read`);
    }
  }
  if (r.plan.mode === 'count' && r.countSent !== null && clean && r.countSent !== a.sentLen) {
    b.violation(`counted ${r.countSent} bytes, the client wrote ${a.sentLen}`);
  }
  if (clean) {
    for (const [t, s] of [[a, cl.s], [b, r.s]] as const) {
      if (s.bytesRead !== t.recvLen) t.violation(`bytesRead ${s.bytesRead}, 'data' gave ${t.recvLen}`);
      if (s.bytesWritten !== t.sentLen) t.violation(`bytesWritten ${s.bytesWritten}, wrote ${t.sentLen}`);
    }
  }
}

/** One direction: the receiver's bytes are a prefix of the sender's, all of them when due. */
function stream(_ctx: Ctx, from: Track, to: Track, clean: boolean, label: string): void {
  const sent = from.concat('sent');
  const got = to.concat('recv');
  const n = Math.min(sent.length, got.length);
  if (got.length > sent.length) {
    to.violation(`${label}: received ${got.length} bytes, only ${sent.length} were written`);
  }
  if (!got.subarray(0, n).equals(sent.subarray(0, n))) {
    let i = 0;
    while (i < n && got[i] === sent[i]) i++;
    // Say what came instead: bytes from elsewhere in the stream (reordered, duplicated) or not.
    const probe = got.subarray(i, Math.min(got.length, i + 16));
    const at = probe.length >= 8 ? sent.indexOf(probe) : -1;
    let run = 0;
    while (i + run < n && got[i + run] !== sent[i + run]) run++;
    to.violation(`${label}: bytes differ at offset ${i} (received ${got.length}, written ${sent.length}; ` +
      `${run} bytes differ from there; what came there is ${at >= 0 ? `written offset ${at}` : 'not in the stream'})`);
    return;
  }
  // 'end' means the FIN came after the last byte: from a sender that was not destroyed (and
  // did not fail), every byte it wrote must be here. On a clean connection 'end' must come.
  const complete = (to.counts.end && from.destroyed === null && from.errors.length === 0) || clean;
  if (complete && got.length !== sent.length) {
    to.violation(`${label}: received ${got.length} of ${sent.length} bytes ` +
      `(${clean ? 'clean connection' : "after 'end'"})`);
  }
}

// ---------------------------------------------------------------- the tests

const totals = { seeds: 0, failed: 0, events: 0, wallMs: 0, maxSlabs: 0, maxRatio: 0, samples: 0, coverage: Object.fromEntries(COVERAGE_KEYS.map((k) => [k, 0])) };
const failures: SeedResult[] = [];

function report(results: SeedResult[]): string {
  const bad = results.filter((r) => r.violations.length > 0);
  const lines = [`${bad.length} of ${results.length} seeds failed: ${bad.map((r) => r.seed).join(', ')}`];
  bad.forEach((r, i) => {
    lines.push(`\nseed ${r.seed} (reproduce: WASINET_SEED=${r.seed} node --test build/tests/host/sim-property.test.js):`);
    for (const msg of r.violations.slice(0, 12)) lines.push(`  - ${msg}`);
    if (r.violations.length > 12) lines.push(`  - … ${r.violations.length - 12} more`);
    if (i < 5) {
      lines.push(`  scenario: ${JSON.stringify(r.scenario)}`);
      for (const l of r.logs) lines.push(`  ${l}`);
    }
  });
  return lines.join('\n');
}

async function runRange(first: number, count: number): Promise<SeedResult[]> {
  const out: SeedResult[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const t0 = performance.now();
    let r: SeedResult;
    try {
      r = await runSeed(seed);
    } catch (err) {
      // The scenario could not even run (a throw outside the guarded handlers): fail this seed.
      r = { seed, violations: [`runSeed threw: ${(err as Error)?.stack ?? String(err)}`], scenario: generate(seed),
        logs: [], events: 0, mem: { max: 0, maxRatio: 0, samples: 0 }, covered: {} };
    }
    totals.wallMs += performance.now() - t0;
    totals.seeds++;
    totals.events += r.events;
    totals.maxSlabs = Math.max(totals.maxSlabs, r.mem.max);
    totals.maxRatio = Math.max(totals.maxRatio, r.mem.maxRatio);
    totals.samples += r.mem.samples;
    for (const k of COVERAGE_KEYS) if (r.covered[k]) totals.coverage[k]++;
    if (r.violations.length > 0) { totals.failed++; failures.push(r); }
    out.push(r);
  }
  return out;
}

if (ONLY !== null) {
  test(`sim property: seed ${ONLY}`, async (t) => {
    const r = await runSeed(ONLY, true);
    t.diagnostic(`scenario ${JSON.stringify(r.scenario)}`);
    for (const l of r.logs) t.diagnostic(l);
    assert.equal(r.violations.length, 0, report([r]));
  });
} else {
  const per = Math.ceil(SEEDS / GROUPS);
  for (let g = 0; g < GROUPS; g++) {
    const first = FIRST_SEED + g * per;
    const count = Math.min(per, FIRST_SEED + SEEDS - first);
    if (count <= 0) break;
    test(`sim property: seeds ${first}..${first + count - 1}`, async () => {
      const results = await runRange(first, count);
      const bad = results.filter((r) => r.violations.length > 0);
      assert.equal(bad.length, 0, report(results));
    });
  }

  test('sim property: fault coverage', (t) => {
    const c = totals.coverage;
    t.diagnostic(`${totals.seeds} seeds, ${totals.failed} failed, ${totals.events} network events, ` +
      `${(totals.wallMs / 1000).toFixed(1)} s in seeds`);
    t.diagnostic(`memory: ${totals.samples} samples, at most ${totals.maxSlabs} slabs in use, at most ` +
      `${totals.maxRatio.toFixed(2)} slabs per live socket (bound ${SLABS_PER_SOCKET})`);
    t.diagnostic(`coverage (seeds exercising each): ${COVERAGE_KEYS.map((k) => `${k}=${c[k]}`).join(' ')}`);
    assert.equal(totals.seeds, SEEDS);
    // Each fault kind in at least a few seeds (scaled down when WASINET_SEEDS is lowered).
    const min = Math.max(1, Math.min(5, Math.floor(SEEDS / 100)));
    const missing = COVERAGE_KEYS.filter((k) => !INFO_ONLY.has(k) && c[k] < min);
    assert.deepEqual(missing, [], `covered fewer than ${min} times: ${missing.map((k) => `${k}=${c[k]}`).join(', ')}`);
  });
}
