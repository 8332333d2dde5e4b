// The application's randomness, made the same again when it is replayed (docs/replay.md,
// "Randomness").
//
// A program's writes often carry values it drew at random: mqtt.js's client id and first message
// id (Math.random), a WebSocket key and every frame's mask (crypto.randomBytes, randomFillSync),
// a SCRAM nonce, a statement name. Replayed, the program draws other values and its first such
// write differs from the recording. So while a recording asks for it (RecordOptions.random):
//
// - Math.random is a generator of our own (xoshiro128**, 53-bit doubles) whose seed is in the
//   trace's header: the replay seeds the same generator, and a program that draws as many
//   numbers in the same order gets the same ones. (Node's own modules keep V8's: they hold it
//   from before the program starts.)
// - the crypto module's random functions (randomBytes, randomFillSync, randomFill, randomInt,
//   randomUUID, getRandomValues, and globalThis.crypto's getRandomValues and randomUUID) still
//   draw from the system, and each draw is kept in the trace (`random` records, numbered in the
//   order of the calls): the replay gives back what draw N gave. These values are what the
//   program used as secrets too: a trace holds them (as it holds the traffic); `random: 'math'`
//   keeps crypto out.
//
// Randomness drawn inside OpenSSL (TLS handshakes, key generation, Diffie-Hellman) is not
// reached: a TLS session over a recorded socket does not replay.
//
// One recording or replay of randomness per process at a time: the functions are process-wide. A
// second recording goes without; a replay takes over (an earlier one is over, or is given up).
import * as nodeModule from 'node:module';

/** What a trace's header says of the recording's randomness. */
export interface RandomHeader {
  /** Math.random's generator seed: four 32-bit words. */
  seed: number[];
  /** Draws of the crypto module are in the trace (`random` records). */
  crypto: boolean;
}

/** One draw of the crypto module's randomness, as a `random` record keeps it. */
export interface RandomDraw {
  /** The draw's number: the order of the calls (an asynchronous one's result may come later). */
  i: number;
  /** The function. */
  f: string;
  /** The bytes drawn (base64), for the functions that fill bytes. */
  b?: string;
  /** The value, for randomInt and randomUUID. */
  v?: number | string;
}

const require = typeof import.meta.url === 'string' ? nodeModule.createRequire(import.meta.url) : null;

interface CryptoFns {
  randomBytes: (size: number, cb?: (err: Error | null, buf: Buffer) => void) => Buffer | undefined;
  randomFillSync: <T>(buf: T, offset?: number, size?: number) => T;
  randomFill: (...args: unknown[]) => void;
  randomInt: (...args: unknown[]) => number | undefined;
  randomUUID: (options?: unknown) => string;
}

/** The module object whose functions programs call (the ES module's names follow it: syncBuiltinESMExports). */
const cryptoModule: (CryptoFns & Record<string, unknown>) | null = (() => {
  try { return require?.('node:crypto') ?? null; } catch { return null; }
})();
/** The functions as the runtime gave them, before any were replaced. */
const real: CryptoFns | null = cryptoModule === null ? null : {
  randomBytes: cryptoModule.randomBytes, randomFillSync: cryptoModule.randomFillSync, randomFill: cryptoModule.randomFill,
  randomInt: cryptoModule.randomInt, randomUUID: cryptoModule.randomUUID,
};
const web = (globalThis as { crypto?: object }).crypto;
const webProto = web === undefined ? null : Object.getPrototypeOf(web) as {
  getRandomValues?: <T>(this: unknown, a: T) => T; randomUUID?: (this: unknown) => string;
};
/**
 * Calls into the runtime's own functions under way: a runtime whose crypto functions call each
 * other (Deno's randomUUID calls globalThis.crypto's) draws once, not twice.
 */
let inside = 0;
function underlying<T>(fn: () => T): T {
  inside++;
  try {
    return fn();
  } finally {
    inside--;
  }
}

/** The runtime's own randomUUID, for wasinet's ids (a recording's): never a draw of the application's. */
export function ownRandomUUID(): string {
  return underlying(() => real !== null ? real.randomUUID.call(cryptoModule) : (globalThis as { crypto: { randomUUID(): string } }).crypto.randomUUID());
}
const realGetRandomValues = webProto?.getRandomValues;
const realWebUUID = webProto?.randomUUID;
const realMathRandom = Math.random;

/** A fresh seed from the system's randomness (never all zero: the generator would stay at zero). */
export function newSeed(): number[] {
  const s = new Uint32Array(4);
  if (realGetRandomValues !== undefined && web !== undefined) realGetRandomValues.call(web, s);
  else for (let i = 0; i < 4; i++) s[i] = Math.floor(realMathRandom() * 2 ** 32);
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return [...s];
}

/** Math.random's replacement: xoshiro128** from `seed`, two 32-bit outputs per 53-bit double in [0, 1). */
export function seededRandom(seed: readonly number[]): () => number {
  let a = seed[0] >>> 0, b = seed[1] >>> 0, c = seed[2] >>> 0, d = seed[3] >>> 0;
  if ((a | b | c | d) === 0) a = 1;
  const next = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r;
  };
  return function random(): number {
    return ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
  };
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/** Where draws go (a recorder) or come from (a replay). */
interface Session {
  next: number;
  /** A draw was made: keep it (recording) or put the recorded one in its place (replay). */
  took(i: number, f: string, bytes: Uint8Array | null, value?: number | string): number | string | undefined;
}

let session: Session | null = null;
/** The session a call draws for: none inside a call of the runtime's own (see `inside`). */
const drawing = (): Session | null => (inside === 0 ? session : null);
let installed = false;
/** The capture that has the process's randomness now. */
let current: RandomCapture | null = null;

/** The byte range of `buf` a randomFill(Sync) with these offset and size filled (in elements, as Node counts them). */
function filled(buf: ArrayBufferView | ArrayBuffer, offset: unknown, size: unknown): Uint8Array {
  const el = (buf as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  const total = buf.byteLength;
  const off = typeof offset === 'number' ? offset * el : 0;
  const len = typeof size === 'number' ? size * el : total - off;
  return ArrayBuffer.isView(buf) ? new Uint8Array(buf.buffer, buf.byteOffset + off, len) : new Uint8Array(buf as ArrayBuffer, off, len);
}

const viewOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Puts the crypto module's (and globalThis.crypto's) random functions in place, once; they pass through while no session is on. */
function install(): void {
  if (installed || real === null || cryptoModule === null) return;
  installed = true;
  const r = real;
  const m = cryptoModule;
  m.randomBytes = function randomBytes(this: unknown, size: number, cb?: (err: Error | null, buf: Buffer) => void) {
    const s = drawing();
    if (s === null) return r.randomBytes.call(this, size, cb);
    const i = s.next++;
    if (typeof cb === 'function') {
      return underlying(() => r.randomBytes.call(this, size, (err, buf) => {
        if (!err) s.took(i, 'randomBytes', buf);
        cb(err, buf);
      }));
    }
    const buf = underlying(() => r.randomBytes.call(this, size, cb)!);
    s.took(i, 'randomBytes', buf);
    return buf;
  } as CryptoFns['randomBytes'];
  m.randomFillSync = function randomFillSync(this: unknown, buf: ArrayBufferView, offset?: number, size?: number) {
    const s = drawing();
    const args = arguments as unknown as [ArrayBufferView];
    const out = underlying(() => r.randomFillSync.apply(this, args));
    if (s !== null) s.took(s.next++, 'randomFillSync', filled(buf, offset, size));
    return out;
  } as CryptoFns['randomFillSync'];
  m.randomFill = function randomFill(this: unknown, buf: unknown, ...rest: unknown[]) {
    const s = drawing();
    const at = rest.findIndex((x) => typeof x === 'function');
    // Without a callback: Node's own error.
    if (s === null || at < 0) return r.randomFill.call(this, buf, ...rest);
    const i = s.next++;
    const cb = rest[at] as (err: Error | null, b: unknown) => void;
    const args = rest.slice(0, at);
    return underlying(() => r.randomFill.call(this, buf, ...args, (err: Error | null, b: unknown) => {
      if (!err) s.took(i, 'randomFill', filled(buf as ArrayBufferView, args[0], args[1]));
      cb(err, b);
    }));
  };
  m.randomInt = function randomInt(this: unknown, ...args: unknown[]) {
    const s = drawing();
    if (s === null) return r.randomInt.apply(this, args);
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      const i = s.next++;
      const cb = last as (err: Error | null, n: number) => void;
      return underlying(() => r.randomInt.apply(this, [...args.slice(0, -1), (err: Error | null, n: number) => {
        cb(err, err ? n : s.took(i, 'randomInt', null, n) as number);
      }]));
    }
    const n = underlying(() => r.randomInt.apply(this, args) as number);
    return s.took(s.next++, 'randomInt', null, n) as number;
  };
  m.randomUUID = function randomUUID(this: unknown, options?: unknown) {
    const s = drawing();
    const args = arguments as unknown as [unknown];
    const id = underlying(() => r.randomUUID.apply(this, args));
    return s === null ? id : s.took(s.next++, 'randomUUID', null, id) as string;
  };
  // globalThis.crypto (which crypto.getRandomValues and crypto.webcrypto also reach): its own
  // methods in front of its prototype's, called with the receiver given, so a call on anything
  // but a Crypto still fails as it does.
  if (web !== undefined && realGetRandomValues !== undefined) {
    const get = realGetRandomValues;
    Object.defineProperty(web, 'getRandomValues', {
      configurable: true, writable: true, enumerable: false,
      value: function getRandomValues<T>(this: unknown, array: T): T {
        const s = drawing();
        const out = underlying(() => get.call(this, array) as T);
        if (s !== null) s.took(s.next++, 'getRandomValues', viewOf(array as unknown as ArrayBufferView));
        return out;
      },
    });
  }
  if (web !== undefined && realWebUUID !== undefined) {
    const uuid = realWebUUID;
    Object.defineProperty(web, 'randomUUID', {
      configurable: true, writable: true, enumerable: false,
      value: function randomUUID(this: unknown): string {
        const s = drawing();
        const id = underlying(() => uuid.call(this));
        return s === null ? id : s.took(s.next++, 'randomUUID', null, id) as string;
      },
    });
  }
  // `import { randomBytes } from 'node:crypto'` sees the module object's functions from now on.
  (nodeModule as { syncBuiltinESMExports?: () => void }).syncBuiltinESMExports?.();
}

/** A recording or replay of the process's randomness; `stop()` gives Math.random back (the crypto functions pass through). */
export interface RandomCapture {
  readonly header: RandomHeader;
  stop(): void;
}

/** `takeOver`: a capture that has the randomness now is stopped first (else this throws). */
function start(header: RandomHeader, s: Session | null, takeOver: boolean): RandomCapture {
  if (current !== null) {
    if (!takeOver) throw new Error('wasinet: the randomness of this process is already recorded (one recording at a time)');
    current.stop();
  }
  const gen = seededRandom(header.seed);
  Math.random = gen;
  if (header.crypto && s !== null) {
    install();
    session = s;
  }
  let on = true;
  const capture: RandomCapture = {
    header,
    stop() {
      if (!on) return;
      on = false;
      if (Math.random === gen) Math.random = realMathRandom;
      if (current === capture) current = null;
      if (session === s) session = null;
    },
  };
  current = capture;
  return capture;
}

/** Whether a recording may take the process's randomness now (no other stack has it). */
export function randomFree(): boolean {
  return current === null;
}

/**
 * The header of a recording that will have the process's randomness (a new seed; crypto draws
 * kept when asked for and there is a crypto module), or null when another recording has it.
 */
export function randomHeaderFor(crypto: boolean): RandomHeader | null {
  return randomFree() ? { seed: newSeed(), crypto: crypto && real !== null } : null;
}

/**
 * Starts recording the process's randomness as `header` says (randomHeaderFor): Math.random from
 * its seed, and with `crypto` each draw of the crypto module's, handed to `keep`.
 */
export function recordRandom(header: RandomHeader, keep: (d: RandomDraw) => void): RandomCapture {
  const s: Session = {
    next: 0,
    took(i, f, bytes, value) {
      keep(bytes !== null ? { i, f, b: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') } : { i, f, v: value });
      return value;
    },
  };
  return start(header, s, false);
}

/**
 * Replays a recording's randomness: Math.random from its seed, and draw N of the crypto module
 * given back as recorded. It takes the randomness over from a replay (or recording) that has it. A draw that does not match the recording's (another function, another
 * size, or past its last) keeps the system's value and `onMismatch` is told, once.
 */
export function replayRandom(header: RandomHeader, draws: ReadonlyMap<number, RandomDraw>,
  onMismatch: (what: string) => void): RandomCapture {
  let told = false;
  const mismatch = (what: string): void => {
    if (told) return;
    told = true;
    onMismatch(what);
  };
  const s: Session = {
    next: 0,
    took(i, f, bytes, value) {
      const d = draws.get(i);
      const got = bytes !== null ? `${f}(${bytes.byteLength} bytes)` : `${f}()`;
      if (d === undefined) {
        mismatch(`draw ${i + 1}, ${got}, is past the recording's ${draws.size}`);
        return value;
      }
      if (d.f !== f || (bytes !== null) !== (d.b !== undefined)) {
        mismatch(`draw ${i + 1} was ${d.f} in the recording and is ${got} now`);
        return value;
      }
      if (bytes === null) return d.v;
      const b = Buffer.from(d.b!, 'base64');
      if (b.length !== bytes.byteLength) {
        mismatch(`draw ${i + 1}, ${got}, was ${b.length} bytes in the recording`);
        return value;
      }
      bytes.set(b);
      return value;
    },
  };
  return start(header, header.crypto ? s : null, true);
}

/** The header's randomness, if the recording kept it. */
export function randomHeaderOf(header: { random?: unknown }): RandomHeader | null {
  const r = header.random as Partial<RandomHeader> | undefined;
  if (r === undefined || r === null || !Array.isArray(r.seed) || r.seed.length !== 4) return null;
  return { seed: r.seed.map((x) => Number(x) >>> 0), crypto: r.crypto === true };
}
