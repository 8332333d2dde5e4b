// A fuzzer of the core's boundary: a bare core (no host/net, no backend) fed random sequences
// of every input export — random handles, arguments, lengths and payloads, including ones no
// honest host sends (lengths past scratch, NaN credit, flushed > sent, time going back, handles
// that never were) — with invariants checked after every input:
//   - no trap;
//   - bytes delivered (DATA) never exceed the bytes the transport gave (bytesRead);
//   - a handle that reported CLOSED answers EBADF and never appears in an output again;
//   - every live socket's state is a valid State;
//   - the stack's held bytes never exceed stackBuffer when one is set.
// Seeded (xorshift); a failure names the seed and the input number, so `runFuzz(seed)` replays it.
import { instantiateCore } from '../../host/core/wasm.js';
import { ERRNO, Op } from '../../host/core/abi.js';

export interface FuzzResult { inputs: number; outputs: number; closed: number; data: number }

const STATES = 13;
const ADDRESSES = ['127.0.0.1', '::1', '10.0.0.1', '::ffff:127.0.0.1', 'localhost', 'db.example.com', '/tmp/s.sock',
  '/tmp/../etc/x', '\0abstract', '', 'fe80::1%lo', '1.2.3', ':::', '[::1]', '255.255.255.255', 'a'.repeat(300)];

class Rng {
  #x: number;
  constructor(seed: number) { this.#x = (seed * 2654435761) >>> 0 || 1; }
  next(): number { let x = this.#x; x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; this.#x = x; return x; }
  int(n: number): number { return this.next() % n; }
  chance(p: number): boolean { return this.next() / 4294967296 < p; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]; }
}

export class FuzzFailure extends Error {}

/** Handles to pick from at random, with O(1) add, delete and pick. */
class Pool {
  items: number[] = [];
  #at = new Map<number, number>();
  get size(): number { return this.items.length; }
  add(h: number): void { if (!this.#at.has(h)) { this.#at.set(h, this.items.length); this.items.push(h); } }
  delete(h: number): void {
    const i = this.#at.get(h);
    if (i === undefined) return;
    const last = this.items.pop()!;
    if (last !== h) { this.items[i] = last; this.#at.set(last, i); }
    this.#at.delete(h);
  }
  pick(rng: Rng): number { return this.items[rng.int(this.items.length)]; }
}

/** Runs `count` random inputs against a fresh core with `seed`; throws FuzzFailure naming both. */
export function runFuzz(seed: number, count: number): FuzzResult {
  const rng = new Rng(seed);
  let step = 0;
  let current = '';
  const fail = (why: string): never => { throw new FuzzFailure(`fuzz seed ${seed}, input ${step} (${current}): ${why}`); };
  const delivered = new Map<number, number>();
  const received = new Map<number, number>();
  const closed = new Set<number>();
  const closedList: number[] = [];
  const live = new Pool();
  const opened = new Pool(); // sockets an honest sequence connected: deep states are reached from here
  const listeners = new Pool();
  const touched: number[] = [];
  let outputs = 0, data = 0, maxHandle = 0;
  let stackBuffer = Infinity;
  let prevHeld = 0;
  const core = instantiateCore((op, h, a, _b, _c, _ptr, len) => {
    if (op === 0) return; // FILL: scratch holds the payload already
    outputs++;
    if (closed.has(h) && op !== Op.CMD_TIMER) fail(`output ${op} for handle ${h} after its CLOSED`);
    if (op === Op.EV_DATA) { delivered.set(h, (delivered.get(h) ?? 0) + len); data++; touched.push(h); }
    if (op === Op.EV_CLOSED) { closed.add(h); closedList.push(h); live.delete(h); opened.delete(h); }
    if (op === Op.EV_CONNECTION) { live.add(a); maxHandle = Math.max(maxHandle, a); }
  });
  const x = core.exports;
  const mem = () => new Uint8Array(x.memory.buffer);
  const scratch: number = x.scratchPtr();
  const scratchSize: number = x.scratchSize();
  let now = 0;

  const handle = (): number => {
    const r = rng.int(10);
    if (r < 3 && opened.size > 0) return opened.pick(rng);
    if (r < 6 && live.size > 0) return live.pick(rng);
    if (r < 7 && listeners.size > 0) return listeners.pick(rng);
    if (r < 8 && closedList.length > 0) return rng.pick(closedList);
    return rng.int(maxHandle + 3);
  };
  /** A length: mostly honest, sometimes past scratch or huge. */
  const length = (honest: number): number => {
    const r = rng.int(20);
    if (r === 0) return scratchSize + rng.int(10);
    if (r === 1) return 0xffffffff;
    if (r === 2) return 0;
    return honest;
  };
  const text = (s: string, at = 0): number => {
    const b = Buffer.from(s, 'utf8');
    mem().set(b.subarray(0, scratchSize - at), scratch + at);
    return b.length;
  };
  const noise = Buffer.alloc(scratchSize);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  const bytes = (n: number): number => {
    const off = rng.int(scratchSize - n + 1);
    mem().set(noise.subarray(off, off + n), scratch);
    return n;
  };
  const num = (): number => rng.pick([0, 1, -1, 0.5, 2 ** 31, -(2 ** 31), 65536, NaN, Infinity, -Infinity, rng.int(70000), rng.int(1 << 21)]);
  const errno = (): number => rng.chance(0.5) ? 0 : rng.chance(0.4) ? rng.int(60) - 5 : rng.pick([ERRNO.ECONNREFUSED, ERRNO.ECONNRESET, ERRNO.EPIPE, ERRNO.ETIMEDOUT]);

  const inputs: [string, () => number][] = [
    ['apiSocket', () => { const h = x.apiSocket(now); live.add(h); maxHandle = Math.max(maxHandle, h); return 0; }],
    ['apiConnect', () => {
      const hl = text(rng.pick(ADDRESSES));
      const ll = rng.chance(0.2) ? text(rng.pick(ADDRESSES), hl + 1) : 0;
      return x.apiConnect(now, handle(), rng.pick([0, 1, 4, 6, 9]), rng.int(70000), rng.chance(0.1) ? rng.int(70000) : 0, length(hl), length(ll), rng.int(1 << 12), num());
    }],
    // An honest client, so that many sockets get to OPEN with a reader (queues, DATA, timers).
    ['connected', () => {
      const h = x.apiSocket(now);
      live.add(h); opened.add(h); maxHandle = Math.max(maxHandle, h);
      x.apiConnect(now, h, 4, 80, 0, text('127.0.0.1'), 0, 0, 250);
      const l = text('127.0.0.1\u0000127.0.0.1');
      x.onConnect(now, h, 0, 1, rng.pick([0, 1, 1000, 1 << 20]), 5000, 80, 4, l);
      if (rng.chance(0.7)) x.apiRead(now, h);
      return 0;
    }],
    ['apiOpen', () => x.apiOpen(now, handle(), rng.int(100), rng.int(3))],
    ['apiWrite', () => x.apiWrite(now, handle(), length(bytes(rng.pick([1, 10, 1000, 16384, 70000]))), rng.int(2))],
    ['apiEnd', () => x.apiEnd(now, handle())],
    ['apiRead', () => x.apiRead(now, handle())],
    ['apiPause', () => x.apiPause(now, handle())],
    ['apiDestroy', () => x.apiDestroy(now, handle(), rng.int(4))],
    ['apiSetTimeout', () => x.apiSetTimeout(now, handle(), num())],
    ['apiRefreshTimeout', () => x.apiRefreshTimeout(now, handle())],
    ['apiSetOption', () => x.apiSetOption(now, handle(), rng.int(4), num(), num())],
    ['apiFlush', () => x.apiFlush(now)],
    ['apiRef', () => x.apiRef(now, handle(), rng.int(2))],
    ['onResolved', () => {
      const m = mem();
      let p = 0;
      const n = rng.int(4);
      for (let i = 0; i < n; i++) {
        const a = Buffer.from(rng.pick(ADDRESSES).slice(0, 255));
        m[scratch + p] = rng.pick([4, 6, 0, 9]);
        m[scratch + p + 1] = rng.chance(0.1) ? 255 : a.length;
        m.set(a, scratch + p + 2);
        p += 2 + a.length;
      }
      return x.onResolved(now, handle(), rng.chance(0.1) ? n + 3 : n, length(p));
    }],
    ['onConnect', () => {
      const l = text(`127.0.0.1\u0000${rng.pick(ADDRESSES)}`);
      return x.onConnect(now, handle(), errno(), rng.pick([1, 8, 257, 264, 0]), num(), rng.int(70000), rng.int(70000), rng.pick([0, 4, 6]), length(l));
    }],
    ['onBound', () => x.onBound(now, handle())],
    ['onData', () => {
      const h = handle();
      const n = length(bytes(rng.pick([1, 100, 4096, 65536, 200000])));
      const r = x.onData(now, h, n);
      return r;
    }],
    ['onEof', () => x.onEof(now, handle())],
    ['onWritten', () => x.onWritten(now, handle(), num(), num())],
    ['onShutdown', () => x.onShutdown(now, handle(), errno())],
    ['onError', () => x.onError(now, handle(), errno(), rng.int(12))],
    ['onClosed', () => x.onClosed(now, handle())],
    ['apiListen', () => {
      const l = text(rng.pick(ADDRESSES));
      const h = x.apiListen(now, rng.int(70000), rng.int(600), rng.int(512), length(l), rng.chance(0.3) ? handle() : 0, num());
      if (h > 0) { listeners.add(h); maxHandle = Math.max(maxHandle, h); }
      return 0;
    }],
    ['apiServerClose', () => x.apiServerClose(now, handle())],
    ['apiSetMaxConnections', () => x.apiSetMaxConnections(now, handle(), num())],
    ['onListening', () => x.onListening(now, handle(), errno(), rng.int(12), rng.int(70000), rng.pick([0, 4, 6]), length(text(rng.pick(ADDRESSES))))],
    ['onConnection', () => {
      const l = text(`127.0.0.1\u0000${rng.pick(ADDRESSES)}`);
      const h = x.onConnection(now, handle(), num(), rng.pick([0, 4, 6]), rng.int(2 ** 32), length(l));
      if (h > 0) maxHandle = Math.max(maxHandle, h);
      return 0;
    }],
    ['onTimer', () => x.onTimer(now)],
    ['apiTimerSet', () => x.apiTimerSet(now, rng.int(50), num())],
    ['apiTimerClear', () => x.apiTimerClear(now, rng.int(50))],
    ['apiPolicy', () => {
      // A plausible table, or random bytes.
      const m = mem();
      let p = 0;
      m[scratch + p++] = rng.int(2);
      const n = rng.int(4);
      for (let i = 0; i < n; i++) {
        const t = Buffer.from(rng.pick(ADDRESSES).slice(0, 60));
        m[scratch + p] = rng.int(5); m[scratch + p + 1] = rng.int(6);
        m[scratch + p + 2] = rng.int(256); m[scratch + p + 3] = rng.int(256); m[scratch + p + 4] = 255; m[scratch + p + 5] = 255;
        m[scratch + p + 6] = rng.pick([0, 8, 32, 128, 255, 200]);
        m[scratch + p + 7] = rng.chance(0.1) ? 200 : t.length; m[scratch + p + 8] = 0;
        m.set(t, scratch + p + 9);
        p += 9 + t.length;
      }
      if (rng.chance(0.7)) {
        // connect *:* — most runs keep connecting, so the deep states stay reachable
        m.set([1, 0, 0, 0, 255, 255, 0, 0, 0], scratch + p);
        p += 9;
      }
      return x.apiPolicy(now, length(rng.chance(0.1) ? bytes(rng.int(100)) : p));
    }],
    ['apiLimits', () => {
      const v = () => rng.chance(0.6) ? -1 : rng.pick([0, 1, 2, 100, 20000, 1 << 20, NaN]);
      const sb = v();
      stackBuffer = sb >= 0 ? sb : Infinity;
      // coreMemory stays off: a core past it traps on purpose (sandbox-contain tests that).
      return x.apiLimits(now, v(), v(), v(), sb, v(), v(), -1);
    }],
  ];
  // Honest-looking traffic dominates, so sockets get far enough to have queues and timers.
  const weights = inputs.map(([name]) => (/^(onData|apiWrite|onWritten)$/.test(name) ? 10 : /^(connected|apiSocket|apiConnect|onConnect|apiRead|apiPause|onConnection|apiListen|onListening)$/.test(name) ? 4 : 1));
  const table: number[] = [];
  weights.forEach((w, i) => { for (let k = 0; k < w; k++) table.push(i); });

  for (step = 1; step <= count; step++) {
    const r = rng.int(100);
    now = r < 2 ? now - rng.int(1000) : r < 60 ? now : now + rng.int(r < 95 ? 50 : 100000);
    const [name, run] = inputs[table[rng.int(table.length)]];
    current = name;
    try {
      run();
    } catch (err) {
      fail(`trap: ${(err as Error).message} ${core.drainDiagnostics().trim()}`);
    }
    // Invariants.
    while (touched.length > 0) {
      const h = touched.pop()!;
      const n = delivered.get(h) ?? 0;
      const br: number = x.bytesRead(h);
      if (br >= 0) received.set(h, br);
      if (n > (received.get(h) ?? 0)) fail(`handle ${h}: ${n} bytes delivered, ${received.get(h) ?? 0} received`);
    }
    if (live.size > 300) for (const h of live.items.slice(0, 100)) { x.apiDestroy(now, h, 1); x.onClosed(now, h); }
    if (step % 97 === 0) {
      for (const h of live.items) {
        const st: number = x.socketState(h);
        if (!(st >= -1 && st < STATES)) fail(`handle ${h}: state ${st}`);
      }
    }
    if (closedList.length > 0 && step % 5 === 0) {
      const h = rng.pick(closedList);
      const before = outputs;
      current = `apiEnd on closed ${h}`;
      if (x.socketState(h) !== -1) fail(`closed handle ${h} still has a state`);
      if (x.apiEnd(now, h) !== ERRNO.EBADF) fail(`closed handle ${h}: apiEnd did not answer EBADF`);
      if (x.apiWrite(now, h, 1, 1) !== -ERRNO.EBADF) fail(`closed handle ${h}: apiWrite did not answer -EBADF`);
      if (outputs > before + 2) fail(`closed handle ${h}: inputs to it had outputs`); // TIMER at most
    }
    // Bytes queued before a lower stackBuffer was set may stay above it, but never grow there.
    const held: number = x.usage(2);
    if (held > stackBuffer && held > prevHeld) fail(`the queues grew to ${held} bytes past stackBuffer ${stackBuffer}`);
    prevHeld = held;
  }
  return { inputs: count, outputs, closed: closed.size, data };
}
