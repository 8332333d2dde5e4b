// The trace recorder (format 2, see format.ts): an InputTap on a stack's core that encodes each
// input into a chunk of memory as it happens — its payload copied once, straight from the
// caller's buffer or scratch — into chunks of shared memory it hands to the TraceWriter, whose
// thread writes them to disk. Outputs are not kept: the core folds them into a digest as it emits them.
import path from 'node:path';
// The runtime's timers: not the program's, which a recording may stand in for (timers.ts).
import { realSetTimeout as later, realClearTimeout as unlater } from './timers.js';
import type { InputTap } from '../core/core.js';
import { INPUTS } from '../core/inputs.js';
import { ABI_VERSION } from '../core/abi.js';
import { coreDigest } from '../core/trace.js';
import { OUTPUT_DIGEST, OUTPUT_DIGEST_HEADS, type OutputDigest } from '../core/outhash.js';
import { TraceWriter, compressionOf, drainWriters } from './writer.js';
import { CHUNK } from './writer-io.js';
import type { TraceRecord } from './reader.js';
import { RealDate, type ClockHeader, type ClockRead } from './clock.js';
import { ownRandomUUID as randomUUID, type RandomCapture, type RandomDraw, type RandomHeader } from './random.js';
import {
  COMPRESSION_NAMES, FLAG_NESTED, FLAG_SAME_TURN, FLAG_SAME_LOOP, INT_LIMIT, META_CORE_NEW, META_END, META_LOOKUP_ERROR, META_TLS, META_TIMER,
  META_CLOCK, META_NAMES, META_RANDOM, META_SEGMENT_END, META_TRAP, META_TRUNCATED, TAG_FLAGS, TAG_NOW_SAME, TRACE_VERSION_2, WRITE_HEAD,
  writeDigest, type TraceHeader,
} from './format.js';

export interface RecordOptions {
  /** The trace file (later segments of a rotated recording are FILE.1, FILE.2 …). */
  path: string;
  /** 'none' (default), 'deflate' ('gzip' is taken for it) or 'brotli': each block compressed off the event loop. */
  compression?: 'none' | 'deflate' | 'gzip' | 'brotli';
  /** Start a new segment once this one holds this many bytes (before compression). */
  maxBytes?: number;
  /** Start a new segment once this one spans this many ms of the stack's clock. */
  maxMs?: number;
  /** Keep only the newest `keep` segments (older ones are removed as new ones start). */
  keep?: number;
  /** Bytes the disk may fall behind before recording stops (the trace then says so). Default 256 MiB. */
  maxPending?: number;
  /**
   * Hands what was encoded to the writer at least this often (ms), full chunk or not, so a
   * process that dies without exiting (SIGKILL, a crash of the runtime) leaves all but its last
   * moments in the file. Default 200; 0 only hands over full chunks.
   */
  flushMs?: number;
  /** 1 writes the old JSON-lines format (host/core/trace.ts), for tools that read it. Default 2. */
  version?: 1 | 2;
  /**
   * Of each write the application makes, the bytes kept whole (default 256); of a longer one,
   * its length, those first bytes and a digest of all of it (format.ts, writeDigest: every byte
   * of a write of up to 8 KiB; of a longer one its first 1 KiB, samples and its last 32). A
   * replay of the application makes its writes again and checks them against these; a replay
   * of the core alone feeds zeros for the bytes not kept. Everything that comes from the network
   * (data, names, addresses) is always kept whole. `Infinity` keeps every byte of every write:
   * a replay then shows where a long write first differs, at the cost of storing all of it
   * (`'all'` says the same where JSON has no Infinity: WASINET_RECORD_OPTIONS).
   */
  writeHead?: number | 'all';
  /**
   * Make the application's randomness the same again when it is replayed (random.ts): `true`
   * (default) seeds Math.random from a seed in the header and keeps each draw of the crypto
   * module's randomness in the trace; `'math'` only Math.random; `false` neither. Process-wide:
   * only one recording at a time has it (a second recording that asks goes without).
   */
  random?: boolean | 'math';
  /**
   * Keep the program's readings of the wall clock (Date.now(), new Date(), Date()), so that an
   * application replay gives them back (clock.ts). Default true. Process-wide, as `random`.
   */
  clock?: boolean;
}

const ID_WRITE = INPUTS.find((x) => x.name === 'apiWrite')!.id;
const EMPTY = new Uint8Array(0);
const ARGC = new Uint8Array(64);
const HAS_PAYLOAD = new Uint8Array(64);
for (const x of INPUTS) { ARGC[x.id] = x.argc; HAS_PAYLOAD[x.id] = x.payload ? 1 : 0; }

/** Recorders not closed yet: at exit, what each has encoded goes to its writer (one hook for all). */
const open = new Set<TraceRecorder2>();
let exitHooked = false;

function track(r: TraceRecorder2): void {
  open.add(r);
  if (!exitHooked) {
    exitHooked = true;
    // Prepended: ahead of the writer's own hook, which then waits until the thread wrote it all.
    process.prependListener('exit', () => { for (const x of [...open]) x.flushAtExit(); });
  }
  if (open.size === 1) listenForSignals(true);
}

function untrack(r: TraceRecorder2): void {
  if (open.delete(r) && open.size === 0) listenForSignals(false);
}

/** Signals whose default action ends the process without an 'exit' event. */
const ENDING_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * A process ended by a signal it does not handle (`docker stop`, Ctrl-C, a closed terminal)
 * emits no 'exit': what the recorders encoded would stay in memory. While a recorder is open, a
 * listener of our own runs first (prepended) and takes itself out of the way at once, so the
 * application's listeners decide as if it were not there — one that ends the process only when
 * it is the only listener (as signal-exit does) still sees itself alone. Then:
 * - no other listener: the signal was going to end the process. What was encoded is handed to
 *   the writer, the process waits until it is on disk, and the signal is raised again: the
 *   process ends as it would have, killed by that signal.
 * - other listeners: the application handles the signal. What was encoded is handed to the
 *   writer, and recording goes on (the timed hand-over, flushMs, covers what comes later).
 */
function onEndingSignal(signal: NodeJS.Signals): void {
  listenForSignals(false);
  if (process.listenerCount(signal) > 0) {
    for (const r of open) r.handOver();
    return;
  }
  for (const r of [...open]) r.flushAtExit();
  drainWriters();
  process.kill(process.pid, signal);
}

function listenForSignals(on: boolean): void {
  if (typeof process.kill !== 'function') return;
  for (const s of ENDING_SIGNALS) {
    try {
      if (on) process.prependListener(s, onEndingSignal);
      else process.removeListener(s, onEndingSignal);
    } catch {
      // A runtime that cannot listen for this signal.
    }
  }
}

/**
 * What the trace header says beyond the recorder's own: the stack's policy and limits as given to
 * createStack, the recording's randomness (random.ts) and a note of its wall clock (clock.ts).
 */
export interface SandboxHeader { policy?: unknown; limits?: unknown; random?: RandomHeader; clock?: ClockHeader; timers?: boolean }

export function segmentPath(first: string, n: number): string {
  return n === 0 ? first : `${first}.${n}`;
}

const SETTLED = Promise.resolve();

/** Whether loop iterations can be counted here: with a setImmediate of the recorder's own (see #loop). */
const LOOP_COUNTS = typeof setImmediate === 'function';

export class TraceRecorder2 implements InputTap {
  readonly path: string;
  readonly #writer: TraceWriter;
  readonly #opts: RecordOptions;
  readonly #core: string;
  readonly #recording = randomUUID();
  readonly #outputs: OutputDigest;
  readonly #sandbox: SandboxHeader = {};
  #buf!: Buffer;
  /** #buf's bytes for numbers: DataView's setters are inlined, Buffer's validate their offset with a call. */
  #dv!: DataView;
  #pos = 0;
  #off = false;
  #truncated = false;
  #open = false; // an input was written and its output not yet
  #lastNow = NaN;
  #turnOpen = false;
  #closeTurn = (): void => { this.#turnOpen = false; };
  /**
   * Iterations of the event loop, counted where it runs its setImmediate callbacks: a turn that
   * records an input arms an immediate of the recorder's own (unless one is pending), which counts
   * one when the loop next runs its immediates. A turn from the event loop in the same count as
   * the turn before it — two sockets' events from one poll for I/O, or an event right after the
   * application's setImmediate callbacks — is marked FLAG_SAME_LOOP: an application replay plays
   * it before the application's setImmediate callbacks, as it came. (An immediate that re-armed
   * itself for as long as recording lasts would make Bun's loop spin.)
   */
  #loop = 0;
  #turnLoop = -1;
  /** The header's `loops`: this recording marks turns of one loop iteration (a rewrite keeps its source's). */
  readonly #loops: boolean;
  #looper: unknown = null;
  /** writeRecord's: the record's own mark. */
  #sameLoop: boolean | null = null;
  readonly #loopTick = (): void => {
    this.#loop++;
    this.#looper = null;
  };
  #segment = 0;
  #segBytes = 0;
  #segStart = NaN;
  #inputs = 0;
  #payloadBytes = 0;
  #keptBytes = 0;
  #encoded = 0;
  #closing: Promise<void> | null = null;
  #behind = false;
  /** The timed hand-over to the writer (flushMs), while one is due. */
  #timer: ReturnType<typeof later> | null = null;
  readonly #flushMs: number;
  readonly #tick = (): void => {
    this.#timer = null;
    this.handOver();
  };
  /**
   * The payload of the apiWrite being recorded, encoded once its result says how much the core
   * took (output): a write the core took only part of keeps only those bytes, at any size.
   */
  #write: Uint8Array | null = null;
  /** The digest writeRecord gives for #write (a rewritten trace keeps its source's). */
  #writePartial: number | null = null;
  /** RecordOptions.writeHead: Infinity keeps every byte. */
  readonly #head: number;
  /** How the core digests outputs for this recording (InputTap.outputs). */
  get outputs(): OutputDigest { return this.#outputs; }

  /**
   * `core`: the core's bytes, or the digest of them (a rewritten trace keeps its own, and how its
   * outputs were digested: `outputs`).
   */
  constructor(options: RecordOptions, core: Uint8Array | string, outputs?: OutputDigest,
    sandbox: SandboxHeader = {}, loops: boolean = LOOP_COUNTS) {
    const head = options.writeHead === 'all' ? Infinity : options.writeHead ?? WRITE_HEAD;
    if (typeof head !== 'number' || !(head >= 0) || (head !== Infinity && !Number.isInteger(head))) {
      throw new TypeError(`record.writeHead must be a whole number of bytes (0 or more), Infinity or 'all', not ${String(head)}`);
    }
    this.#head = head;
    this.#outputs = outputs ?? (head === Infinity ? OUTPUT_DIGEST : OUTPUT_DIGEST_HEADS);
    this.#loops = loops;
    // The stack's policy and limits as given (a copy: JSON, so later changes to the caller's
    // object do not show, and a rewritten trace keeps its own).
    if (sandbox.policy !== undefined) this.#sandbox.policy = JSON.parse(JSON.stringify(sandbox.policy));
    if (sandbox.limits !== undefined && sandbox.limits !== null) {
      // No limit is left out (JSON has no Infinity).
      this.#sandbox.limits = Object.fromEntries(Object.entries(sandbox.limits as Record<string, unknown>)
        .filter(([, v]) => v !== undefined && v !== Infinity));
    }
    if (sandbox.random !== undefined) this.#sandbox.random = sandbox.random;
    if (sandbox.clock !== undefined) this.#sandbox.clock = sandbox.clock;
    if (sandbox.timers === true) this.#sandbox.timers = true;
    this.#opts = options;
    this.path = options.path;
    const flushMs = options.flushMs ?? 200;
    if (typeof flushMs !== 'number' || !(flushMs >= 0)) throw new TypeError(`record.flushMs must be a number of ms (0 or more), not ${String(flushMs)}`);
    this.#flushMs = flushMs === Infinity ? 0 : flushMs;
    this.#core = typeof core === 'string' ? core : coreDigest(core);
    const compression = compressionOf(options.compression);
    this.#writer = new TraceWriter(options.path, this.#header(), compression, this.#maxPending());
    this.#nextChunk();
    track(this);
  }

  #header(): TraceHeader {
    return {
      wasinet: 'trace', version: TRACE_VERSION_2, abi: ABI_VERSION, core: this.#core, recording: this.#recording,
      segment: this.#segment, started: new RealDate().toISOString(),
      compression: COMPRESSION_NAMES[compressionOf(this.#opts.compression)],
      outputs: this.#outputs,
      ...(this.#loops ? { loops: true } : {}),
      ...(this.#head !== Infinity ? { writeHead: this.#head } : {}),
      ...this.#sandbox,
    };
  }

  /** Inputs recorded so far. */
  get inputs(): number { return this.#inputs; }
  /** Recording stopped early because the disk fell too far behind (the trace says so at its end). */
  get truncated(): boolean { return this.#truncated; }
  /** Why the trace could not be written (a full disk, a removed directory …), once it failed: recording stopped then. */
  get error(): Error | null { return this.#writer.error; }
  /** Payload bytes recorded so far (what the inputs carried). */
  get payloadBytes(): number { return this.#payloadBytes; }
  /** Of those, the bytes the trace holds (of a long write, its head: RecordOptions.writeHead). */
  get keptBytes(): number { return this.#keptBytes; }
  /** Bytes of trace encoded so far (before compression). */
  get encodedBytes(): number { return this.#encoded + this.#pos; }
  /** Bytes on disk so far. */
  get writtenBytes(): number { return this.#writer.written; }
  /** The file of the segment being written. */
  get segmentPath(): string { return segmentPath(this.path, this.#segment); }
  /** Kept for the format-1 recorder's callers: the number of records. */
  get lines(): number { return this.#inputs; }

  // ---------------------------------------------------------------- encoding

  /** Takes the writer's next chunk to encode into, and the view of it for numbers. */
  #nextChunk(): void {
    const b = this.#writer.chunk();
    this.#buf = b;
    this.#dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  #flushChunk(): void {
    if (this.#pos === 0) return;
    const full = this.#buf;
    const len = this.#pos;
    this.#encoded += len;
    this.#segBytes += len;
    this.#writer.push(full, len);
    this.#nextChunk();
    this.#pos = 0;
    // Stop while there is still a chunk to say so in.
    if (this.#writer.pendingBytes > this.#maxPending() || this.#writer.spare < 1) this.#behind = true;
  }

  #maxPending(): number {
    return this.#opts.maxPending ?? 256 * 1024 * 1024;
  }

  #stopLoop(): void {
    if (this.#looper !== null) clearImmediate(this.#looper as Parameters<typeof clearImmediate>[0]);
    this.#looper = null;
  }

  #armLoop(): void {
    const im = setImmediate(this.#loopTick) as unknown as { unref?(): void };
    im.unref?.();
    this.#looper = im;
  }

  /** The disk fell too far behind: the trace ends here, at a record's boundary, and says so. */
  #stop(): void {
    const max = this.#maxPending();
    this.#meta(META_TRUNCATED, { reason: `the disk fell more than ${max} bytes behind` });
    this.#flushChunk();
    this.#off = true;
    this.#stopLoop();
    this.#truncated = true;
    process.emitWarning(`wasinet: recording to ${this.path} stopped: the disk fell more than ${max} bytes behind`);
  }

  #ensure(n: number): void {
    if (this.#pos + n > CHUNK) this.#flushChunk();
    // Whatever is encoded now reaches the writer within flushMs.
    if (this.#timer === null && this.#flushMs > 0) this.#timer = later(this.#tick, this.#flushMs).unref();
  }

  #u8(v: number): void {
    this.#buf[this.#pos++] = v;
  }

  #varint(v: number): void {
    const b = this.#buf;
    let p = this.#pos;
    while (v >= 128) {
      b[p++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    b[p++] = v;
    this.#pos = p;
  }

  #num(v: number): void {
    if (Number.isInteger(v) && v <= INT_LIMIT && v >= -INT_LIMIT && !Object.is(v, -0)) {
      this.#varint(v >= 0 ? v * 4 : -v * 4 - 2);
    } else {
      this.#u8(1);
      this.#dv.setFloat64(this.#pos, v, true);
      this.#pos += 8;
    }
  }

  #bytes(src: Uint8Array): void {
    let off = 0;
    while (off < src.length) {
      if (this.#pos === CHUNK) this.#flushChunk();
      const n = Math.min(src.length - off, CHUNK - this.#pos);
      this.#buf.set(n === src.length ? src : src.subarray(off, off + n), this.#pos);
      this.#pos += n;
      off += n;
    }
  }

  #meta(kind: number, data: unknown): void {
    const json = Buffer.from(JSON.stringify(data ?? {}));
    this.#ensure(16);
    this.#u8(0);
    this.#u8(kind);
    this.#varint(json.length);
    this.#bytes(json);
  }

  #endOpen(): void {
    // The input before trapped the core: no result; a TRAP record says so.
    this.#open = false;
    const w = this.#write;
    if (w !== null) {
      this.#write = null;
      this.#writePayload(w, w.length); // all of it: a replay feeds the same input to the same trap
    }
    this.#ensure(24);
    this.#num(0);
    this.#dv.setUint32(this.#pos, 0, true);
    this.#dv.setUint32(this.#pos + 4, 0, true);
    this.#pos += 8;
    this.#meta(META_TRAP, {});
  }

  // ---------------------------------------------------------------- the tap

  input(id: number, now: number, args: ArrayLike<number>, payload: Uint8Array | null, depth: number, index: number): number {
    if (this.#off) return now;
    // The file cannot be written (the writer warned): encoding more would be wasted.
    if (this.#writer.error !== null) { this.#off = true; return now; }
    if (this.#open) this.#endOpen();
    if (this.#behind) { this.#stop(); return now; }
    if (depth === 0 && this.#segBytes + this.#pos > 0) this.#maybeRotate(now);
    if (this.#segStart !== this.#segStart) this.#segStart = now;
    this.#ensure(96);
    let flags = depth > 0 ? FLAG_NESTED : 0;
    if (depth === 0) {
      if (this.#turnOpen) flags |= FLAG_SAME_TURN;
      else {
        this.#turnOpen = true;
        // A settled promise's reaction, not queueMicrotask: Node wraps each of those in an
        // AsyncResource, which cost more than the rest of recording a connection's turn.
        SETTLED.then(this.#closeTurn);
        if (this.#sameLoop !== null) {
          if (this.#sameLoop) flags |= FLAG_SAME_LOOP;
        } else if (this.#loops) {
          if (this.#turnLoop === this.#loop) flags |= FLAG_SAME_LOOP;
          this.#turnLoop = this.#loop;
          if (this.#looper === null) this.#armLoop();
        }
      }
    }
    const same = now === this.#lastNow;
    this.#u8(id | (same ? TAG_NOW_SAME : 0) | (flags !== 0 ? TAG_FLAGS : 0));
    if (flags !== 0) {
      this.#u8(flags);
      if (depth > 0) { this.#varint(depth); this.#varint(index); }
    }
    if (!same) {
      this.#dv.setFloat64(this.#pos, now, true);
      this.#pos += 8;
      this.#lastNow = now;
    }
    const argc = ARGC[id];
    for (let i = 0; i < argc; i++) this.#num(args[i]);
    if (HAS_PAYLOAD[id] === 1) {
      if (id === ID_WRITE) {
        // Its bytes are still the caller's (or scratch's) when output() comes: no nested input
        // runs in between.
        this.#write = payload ?? EMPTY;
      } else {
        this.#payload(payload ?? EMPTY, payload === null ? 0 : payload.length);
      }
    }
    this.#inputs++;
    this.#open = true;
    return now;
  }

  output(result: number, outHash: number, digest: number): void {
    if (this.#off || !this.#open) {
      this.#write = null; // no longer recording: not kept
      this.#writePartial = null;
      return;
    }
    this.#open = false;
    const w = this.#write;
    if (w !== null) {
      // The host offers the rest of a write the core took only part of again later, as
      // another apiWrite, and a replay's core reads no further than it takes.
      this.#write = null;
      this.#writePayload(w, result > 0 ? Math.min(result, w.length) : 0);
    }
    this.#ensure(24);
    this.#num(result);
    this.#dv.setUint32(this.#pos, outHash >>> 0, true);
    this.#dv.setUint32(this.#pos + 4, digest >>> 0, true);
    this.#pos += 8;
    if (this.#draws.length > 0) {
      for (const [kind, d] of this.#draws.splice(0)) {
        if (kind === META_CLOCK) this.#clock(d as ClockRead);
        else this.#meta(kind, d);
      }
    }
  }

  /**
   * An application's write: its first `len` bytes whole, or when there are more than #head of
   * them, the length, the first #head bytes and a digest of all `len` (writeDigest).
   */
  #writePayload(p: Uint8Array, len: number): void {
    const recorded = this.#writePartial;
    this.#writePartial = null;
    if (len <= this.#head) {
      this.#payload(p, len);
      return;
    }
    const head = this.#head;
    this.#ensure(8);
    this.#varint(len);
    this.#bytes(p.subarray(0, head));
    this.#ensure(4);
    this.#dv.setUint32(this.#pos, recorded ?? writeDigest(p, len), true);
    this.#pos += 4;
    this.#payloadBytes += len;
    this.#keptBytes += head;
  }

  /** A payload's length and its first `len` bytes. */
  #payload(p: Uint8Array, len: number): void {
    const small = len <= 32; // names and addresses: copied in a loop, no view made for them
    this.#ensure(small ? 8 + len : 8);
    this.#varint(len);
    if (small) {
      const b = this.#buf;
      let q = this.#pos;
      for (let i = 0; i < len; i++) b[q++] = p[i];
      this.#pos = q;
    } else {
      this.#bytes(len === p.length ? p : p.subarray(0, len));
    }
    this.#payloadBytes += len;
    this.#keptBytes += len;
  }

  reset(): void {
    if (this.#off) return;
    if (this.#open) this.#endOpen();
    this.#meta(META_CORE_NEW, {});
  }

  /** The default name resolution failed: no core input carries that, so the trace says it here. */
  lookupError(err: { hostname?: unknown; code?: unknown; errno?: unknown; syscall?: unknown }): void {
    if (this.#off) return;
    if (this.#open) this.#endOpen();
    this.#meta(META_LOOKUP_ERROR, { hostname: err.hostname, code: err.code, errno: err.errno, syscall: err.syscall });
  }

  /** The capture of the process's randomness this recording has (stopped when it closes). */
  random: RandomCapture | null = null;
  /** The recording of the program's clock this recording has (stopped when it closes). */
  clock: { stop(): void } | null = null;
  /** Draws and readings made while an input's record waits for its result (none expected: no program code runs then). */
  /** Meta records made while an input is open (written after its output): random draws, clock reads, TLS states. */
  #draws: [number, RandomDraw | ClockRead | { h: number; state: object | null } | { i: number; s: number; t: number }][] = [];

  /** The application drew randomness (random.ts): a `random` record, in the order of the calls' ends. */
  randomDraw(d: RandomDraw): void {
    if (this.#off) return;
    if (this.#open) this.#draws.push([META_RANDOM, d]);
    else this.#meta(META_RANDOM, d);
  }

  /**
   * The state of a TLS session below the core, as its socket asked for it (host/net/tls.ts): a
   * `tls` record, which an application replay answers the same question from.
   */
  tlsState(h: number, state: object | null): void {
    if (this.#off) return;
    const d = { h, state: this.#chainOnce(state) }; // JSON: the state's symbol keys are left out
    if (this.#open) this.#draws.push([META_TLS, d]);
    else this.#meta(META_TLS, d);
  }

  /** Peer certificate chains kept in this segment, by their JSON: the number each is kept under. */
  readonly #chains = new Map<string, number>();

  /**
   * A session's peer certificate chain (a few KB of JSON) is kept once per segment: the first
   * state that has it carries it with its number (`chain`), later ones the number alone (with
   * `peerCertificate` null), which the reader (reader.ts) fills back in.
   */
  #chainOnce(state: object | null): object | null {
    const secure = (state as { secure?: { peerCertificate?: unknown } } | null)?.secure;
    if (secure === undefined || secure.peerCertificate == null) return state;
    const key = JSON.stringify(secure.peerCertificate);
    const known = this.#chains.get(key);
    if (known !== undefined) return { secure: { ...secure, peerCertificate: null, chain: known } };
    const id = this.#chains.size;
    this.#chains.set(key, id);
    return { secure: { ...secure, chain: id } };
  }

  /** The program's timers (timers.ts), while this recording has them. */
  timers: { stop(): void } | null = null;

  /**
   * A timer of the program's runs (timers.ts): a `timer` record — which one, after how many
   * inputs, and whether in the turn of the input before it, with no microtask between (Node's
   * timers phase runs timers of different delays so: the one before made an input) — where an
   * application replay runs it.
   */
  timerRan(i: number): void {
    if (this.#off) return;
    const d = { i, s: this.#inputs, t: this.#turnOpen ? 1 : 0 };
    if (this.#open) this.#draws.push([META_TIMER, d]);
    else this.#meta(META_TIMER, d);
  }

  /** The application read the wall clock (clock.ts): a `clock` record. */
  clockRead(r: ClockRead): void {
    if (this.#off) return;
    if (this.#open) this.#draws.push([META_CLOCK, r]);
    else this.#clock(r);
  }

  /** A `clock` record: three numbers, not JSON (a program may read the clock very often). */
  #clock(r: ClockRead): void {
    this.#ensure(40);
    this.#u8(0);
    this.#u8(META_CLOCK);
    const at = this.#pos++; // its length, under 128: three numbers of at most 9 bytes
    this.#num(r.s);
    this.#num(r.k);
    this.#num(r.v);
    this.#buf[at] = this.#pos - at - 1;
  }

  #maybeRotate(now: number): void {
    const { maxBytes, maxMs } = this.#opts;
    const bytes = maxBytes !== undefined && this.#segBytes + this.#pos >= maxBytes;
    const time = maxMs !== undefined && now - this.#segStart >= maxMs;
    if (!bytes && !time) return;
    const next = this.#segment + 1;
    this.#meta(META_SEGMENT_END, { next: path.basename(segmentPath(this.path, next)) });
    this.#flushChunk();
    this.#chains.clear(); // a segment holds every chain it refers to (an older one may be removed: keep)
    this.#segment = next;
    this.#segBytes = 0;
    this.#segStart = now;
    this.#lastNow = NaN;
    const keep = this.#opts.keep;
    const remove = keep !== undefined && keep > 0 && next - keep >= 0 ? segmentPath(this.path, next - keep) : null;
    this.#writer.rotate(segmentPath(this.path, next), this.#header(), remove);
  }

  /**
   * Writes a record read from a trace as it is (tools that edit or cut traces: rewrite.ts). Its
   * turn and nesting are the record's own.
   */
  writeRecord(r: TraceRecord): void {
    if (this.#off) return;
    if (r.kind === 'meta') {
      const kind = Number(Object.entries(META_NAMES).find(([, n]) => n === r.type)?.[0] ?? 0);
      if (kind === META_CLOCK) this.#clock(r.data as unknown as ClockRead);
      else if (kind !== META_END && kind !== META_SEGMENT_END) this.#meta(kind, r.data);
      return;
    }
    this.#turnOpen = r.sameTurn;
    this.#sameLoop = r.sameLoop;
    this.input(r.id, r.t, r.args, r.payload, r.depth, r.index);
    // A write kept in part: its bytes past the head are zeros here; its digest is the recorded one.
    if (r.partial !== undefined && r.payload !== null && r.payload.length === r.partial.length) this.#writePartial = r.partial.digest;
    this.output(r.result, r.outHash, r.digest);
    this.#turnOpen = true;
  }

  /** Hands what was encoded so far to the writer, and goes on recording. */
  handOver(): void {
    if (!this.#off && this.#pos > 0) this.#flushChunk();
  }

  /**
   * The process is exiting with this recorder still open: what it encoded so far goes to the
   * writer, so the trace holds every input up to the exit (it has no end mark: it was not closed).
   */
  flushAtExit(): void {
    untrack(this);
    if (this.#off || this.#closing) return;
    if (this.#open) this.#endOpen();
    this.#flushChunk();
  }

  /** Stops recording, writes what is left and closes the file; resolves once it is all on disk. */
  close(): Promise<void> {
    untrack(this);
    this.random?.stop();
    this.clock?.stop();
    this.timers?.stop();
    if (this.#timer !== null) unlater(this.#timer);
    this.#timer = null;
    if (this.#closing) return this.#closing;
    if (!this.#off) {
      if (this.#open) this.#endOpen();
      this.#meta(META_END, { inputs: this.#inputs });
      this.#flushChunk();
    }
    this.#off = true;
    this.#stopLoop();
    this.#closing = this.#writer.close().then(() => {
      const e = this.#writer.error;
      if (e) throw e;
    });
    return this.#closing;
  }
}
