// host/core: one instance of the Wasm core and the boundary around it.
//
// Each input method writes its payload into the core's scratch region, calls the export with
// `now`, and then hands the output records the call produced, in order, to the owner's
// `dispatch` (commands to the backend, notifications to host/net). Dispatching may call more
// inputs; each of those dispatches its own records before it returns, so effects nest exactly
// as the synchronous calls of node:net do (a write the kernel takes at once completes inside
// write()). Records carry copies of their payload: a view into Wasm memory would not survive a
// memory growth or the reuse of a queue slab.
//
// An `InputTap` sees every input as it happens (export, `now`, arguments, payload, where it
// nests), its result, a digest of its outputs folded in as they are emitted, and the touched
// handle's state digest: the trace recorder and the application replayer use it, and the fast
// path and zero-copy writes stay on with it. A `Tap` also gets every output record (with copies
// of the payloads): tests and format-1 traces use it, on the slow path. A trap in the core (an abort, an `unreachable`) becomes a
// CoreTrap naming the core's message; the instance is discarded and the owner is told.
//
// Why this file is over 400 lines: it holds one typed method per input of the ABI (docs/abi.md)
// and the one loop that decodes output records; the two are the boundary and belong together.
import { instantiateCore, type CoreExports, type LoadedCore } from './wasm.js';
export { coreWasm } from './wasm.js';
import { Op, OP_NAMES, OP_FILL, FIRST_NOTIFICATION, HostFeature, WRITE_LIMIT } from './abi.js';
import { INPUTS, inputInfo, inputId, inputHandle } from './inputs.js';
import { foldOutput, OUT_SEED, OUTPUT_DIGEST, crcOf, passedOn, WRITE_UNCOUNTED, type OutputDigest } from './outhash.js';

/** Read once: Node 20's global Buffer is an accessor, a getter call at every use. */
const Buffer = globalThis.Buffer;

export interface Output {
  op: Op;
  h: number;
  a: number;
  b: number;
  c: number;
  data: Buffer | null;
}

/**
 * Sees every input of a core once its export returned: its name, `now`, arguments, payload,
 * result and the output records it produced, before they are handled. The recorder and the
 * replayer use it. `digest` is the core's summary of the touched handle's state afterwards.
 */
export interface Tap {
  call(name: string, now: number, args: readonly number[], payload: Uint8Array | null, result: number,
    outputs: readonly Output[], digest: number): void;
  /** A fresh core instance replaces the previous one (after a trap). */
  reset?(): void;
}

/**
 * Sees every input of a core as it happens, without slowing its fast path: the trace recorder
 * (trace format 2) and the application replayer.
 */
export interface InputTap {
  /**
   * An input is about to reach the core. `id` numbers the export (inputs.ts); `args` are its
   * arguments after `now` (read the first `argc`; valid only during the call); `payload` its
   * bytes — the caller's own buffer or a view of scratch, valid only during the call. `depth`
   * is how many inputs are handling their records around this one (0: called from the event
   * loop), `index` which record of the innermost of them is being handled. Returns the `now`
   * to give the export (a replayer gives the recorded one).
   */
  input(id: number, now: number, args: ArrayLike<number>, payload: Uint8Array | null, depth: number, index: number): number;
  /** The export returned: its result, the digest of its outputs (outhash.ts), and of the handle's state. */
  output(result: number, outHash: number, digest: number): void;
  /** Record `index` of the input handling its records at `depth` (1 = outermost) was handled. */
  dispatched?(depth: number, index: number): void;
  /** A fresh core instance replaces the previous one (after a trap). */
  reset?(): void;
  /** How the core is to digest outputs for this tap (outhash.ts); absent: OUTPUT_DIGEST. */
  readonly outputs?: OutputDigest;
}

export interface CoreOwner {
  now(): number;
  dispatch(o: Output): void;
  trapped(err: CoreTrap): void;
}

export class CoreTrap extends Error {
  override name = 'CoreTrap';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A transport address as the core carries it. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

export function isNotification(op: Op): boolean {
  return op >= FIRST_NOTIFICATION;
}

export function opName(op: Op): string {
  return OP_NAMES[op] ?? `op${op}`;
}

const enc = new TextEncoder();

type Export = (now: number, ...args: number[]) => number;
/** Calls an input export with its arguments (not spread: a spread call takes the engine's slow, generic way into Wasm). */
function callExport(fn: Export, now: number, a: readonly number[]): number {
  switch (a.length) {
    case 0: return fn(now);
    case 1: return fn(now, a[0]);
    case 2: return fn(now, a[0], a[1]);
    case 3: return fn(now, a[0], a[1], a[2]);
    case 4: return fn(now, a[0], a[1], a[2], a[3]);
    case 5: return fn(now, a[0], a[1], a[2], a[3], a[4]);
    case 6: return fn(now, a[0], a[1], a[2], a[3], a[4], a[5]);
    case 7: return fn(now, a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    case 8: return fn(now, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
    default: return fn(now, ...a);
  }
}
const POOL_SIZE = 262144; // the largest pooled WRITE buffer (larger copies are allocated as they come)

// A record's numbers are whole except a TIMER's deadline. V8 stores a number field that ever
// held a fraction as a boxed double, allocated for every record made afterwards, whole numbers
// too (16 bytes each). A record of the same shape whose numbers are first seen as "anything"
// keeps whole numbers unboxed in every record. (An engine's detail: elsewhere this is just an
// unused object.)
export const RECORD_SHAPE: Output = { op: 0 as Op, h: 0, a: null!, b: null!, c: null!, data: null };

const ID_WRITE = inputInfo('apiWrite').id;
const ID_DATA = inputInfo('onData').id;
const ID_WRITTEN = inputInfo('onWritten').id;

/** How far #flush's walk over one batch went (Core#walk). */
interface Walk {
  /** 0: commands, 1: notifications. */
  pass: number;
  /** The record. */
  i: number;
  /** 0: not handled yet, 1: dispatched, 2: the input tap told too. */
  step: number;
  /** The last record dispatched. */
  last: number;
  /** READ_STARTs of sockets with kept bytes (index, count), replayed after the notifications. */
  later: number[] | null;
  /** The next of them. */
  k: number;
}

export class Core {
  readonly #owner: CoreOwner;
  readonly #loaded: LoadedCore;
  readonly #x: CoreExports;
  readonly scratch: number;
  readonly scratchSize: number;
  /**
   * The most one apiWrite offers: the core reads no payload from scratch for it (this host
   * gives FILL_AT and serves WRITEs from the caller's buffer), so only the ABI's bound applies.
   */
  readonly writeLimit = WRITE_LIMIT;
  #buffer: ArrayBuffer;
  #u8: Uint8Array;
  /** The current input's records: the first #count slots (arrays are reused, see #flush). */
  #pending: Output[] = [];
  #count = 0;
  #spare: Output[][] = [];
  #dead: CoreTrap | null = null;
  tap: Tap | null = null;
  inputTap: InputTap | null = null;
  /** How the inputTap's output digests count payloads (a replay takes its trace's: outhash.ts). */
  outputDigest: OutputDigest = OUTPUT_DIGEST;
  #outHash = OUT_SEED;
  /** The read being offered (onData), where its current piece ends, and whether it is borrowed. */
  #dataChunk: Uint8Array | null = null;
  #dataEnd = 0;
  #dataBorrowed = false;
  /** Bytes of reads the core had no room for, by socket (see onData). */
  #kept: Map<number, Uint8Array> | null = null;
  /** READ_START/READ_STOP/CLOSE records handled per socket, once bytes were ever kept. */
  #readCmds: Map<number, number> | null = null;
  /** Bytes of payload the current input carries (records pointing at them pass them on). */
  #payloadLen = 0;
  /** Inputs handling their records right now, and which record each is at. */
  #depth = 0;
  #at: number[] = [];
  /**
   * Argument arrays by arity, reused by every input: an input's arguments are read only until
   * its export returned (taps copy what they keep), so no array is made per input.
   */
  readonly #argv: number[][] = [[], [0], [0, 0], [0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]];

  /**
   * Each input's export by input id (inputs.ts), looked up once. Looked up by name at every
   * input, `exports[name]` was a megamorphic keyed load on the exports object.
   */
  readonly #fns: Export[];

  constructor(owner: CoreOwner, module?: WebAssembly.Module) {
    this.#owner = owner;
    this.#loaded = instantiateCore((op, h, a, b, c, ptr, len) => this.#out(op, h, a, b, c, ptr, len), module);
    this.#x = this.#loaded.exports;
    this.#fns = INPUTS.map((info) => this.#x[info.name] as Export);
    this.#buffer = this.#x.memory.buffer;
    this.#u8 = new Uint8Array(this.#buffer);
    this.scratch = this.#x.scratchPtr();
    this.scratchSize = this.#x.scratchSize();
    // This host copies payload bytes wherever the core asks and gathers WRITEs (#out).
    this.#x.hostFeatures?.(HostFeature.FillAt | HostFeature.Gather);
  }

  /** How many inputs are handling their records right now (0: none, the event loop's turn). */
  get depth(): number {
    return this.#depth;
  }

  get dead(): CoreTrap | null {
    return this.#dead;
  }

  /** The exports, for queries and for tests that drive the core directly. */
  get exports(): CoreExports {
    return this.#x;
  }

  #mem(): Uint8Array {
    // Growing the memory detaches its old buffer (a view of it then has no bytes): only then is
    // the buffer asked for again (its getter is a call into the engine, each time).
    if (this.#u8.byteLength === 0) {
      this.#buffer = this.#x.memory.buffer;
      this.#u8 = new Uint8Array(this.#buffer);
    }
    return this.#u8;
  }

  #out(op: number, h: number, a: number, b: number, c: number, ptr: number, len: number): void {
    if (op === OP_FILL) {
      // The core is about to read `len` bytes of this input's payload at ptr: put them there now.
      // With b 1 (FEATURE_FILL_AT) `a` is their offset in the payload and ptr is anywhere (a
      // queue's slab); otherwise ptr is that offset in scratch.
      const src = this.#unfilled;
      const off = b === 1 ? a : ptr - this.scratch;
      if (src !== null) {
        if (off >= 0 && off + len <= src.length) {
          this.#mem().set(off === 0 && len === src.length ? src : src.subarray(off, off + len), ptr);
        }
      } else if (b === 1 && off >= 0 && off + len <= this.#payloadLen) {
        const from = this.scratch + off; // the payload is in scratch already
        if (from !== ptr) this.#mem().copyWithin(ptr, from, from + len);
      }
      return;
    }
    if (op === Op.CMD_WRITE && b === 1) {
      this.#gathered(h, ptr, len);
      return;
    }
    let data: Buffer | null = null;
    const through = ptr === this.scratch && len <= this.#payloadLen;
    // A pointer into scratch names the payload at that offset (a write's payload may be longer
    // than scratch, and the core then names it at scratch itself); past scratch is the core's own.
    const off = ptr - this.scratch;
    const inPayload = off >= 0 && off < this.scratchSize && off + len <= this.#payloadLen;
    if (len > 0) {
      const src = this.#source;
      if (src !== null && inPayload && off + len <= src.length && (op === Op.CMD_WRITE || op === Op.EV_DATA)) {
        // The core passes on bytes of this input unchanged, straight from scratch: the caller's
        // own buffer holds exactly them (the kernel's read buffer, the user's write buffer), so
        // hand that on instead of a copy — as node:net hands them on.
        data = Buffer.isBuffer(src) && off === 0 && src.length === len ? src : Buffer.from(src.buffer, src.byteOffset + off, len);
      } else {
        // WRITE payloads come from a pool the backend returns them to (release) once the
        // kernel took them; everything else is handed on for good (DATA goes to user code).
        data = op === Op.CMD_WRITE ? this.#writeBuffer(len) : Buffer.allocUnsafe(len);
        const mem = this.#mem();
        if (len <= 64) {
          for (let i = 0; i < len; i++) data[i] = mem[ptr + i]; // names and addresses: no view made for them
        } else {
          data.set(mem.subarray(ptr, ptr + len));
        }
      }
    }
    if (data === null && op === Op.CMD_WRITE) data = Buffer.alloc(0); // a WRITE of nothing (write() of an empty buffer)
    this.#pending[this.#count++] = { op, h, a, b, c, data };
    if (this.inputTap !== null) {
      let payload = 0;
      if (len > 0) {
        if (this.outputDigest === 1) payload = through ? passedOn(0) : crcOf(data);
        else if (op === Op.CMD_WRITE && this.outputDigest === 4) payload = WRITE_UNCOUNTED;
        else if ((op === Op.CMD_WRITE || op === Op.EV_DATA) && inPayload) payload = passedOn(off);
        else payload = this.#x.hashBytes(ptr, len);
      }
      this.#outHash = foldOutput(this.#outHash, op, h, a, b, c, len, payload);
    }
  }

  /**
   * A WRITE whose bytes are the runs of its table (FEATURE_GATHER): copied straight from the
   * core's queue into the one buffer the transport sends, and recorded and digested as the WRITE
   * of those bytes the core would otherwise have gathered itself.
   */
  #gathered(h: number, table: number, len: number): void {
    const mem = this.#mem();
    const runs = new Uint32Array(mem.buffer, table, len >>> 2); // [ptr, len] pairs
    let total = 0;
    for (let i = 1; i < runs.length; i += 2) total += runs[i];
    const data = this.#writeBuffer(total);
    let at = 0;
    for (let i = 0; i < runs.length; i += 2) {
      data.set(mem.subarray(runs[i], runs[i] + runs[i + 1]), at);
      at += runs[i + 1];
    }
    this.#pending[this.#count++] = { op: Op.CMD_WRITE, h, a: 0, b: 0, c: 0, data };
    if (this.inputTap !== null) {
      const payload = total === 0 ? 0 : this.outputDigest === 1 ? crcOf(data)
        : this.outputDigest === 4 ? WRITE_UNCOUNTED : this.#x.hashGathered(table, len);
      this.#outHash = foldOutput(this.#outHash, Op.CMD_WRITE, h, 0, 0, 0, total, payload);
    }
  }

  /**
   * The buffer a WRITE's payload is copied into: from a pool the backend returns it to (release)
   * once the kernel took it, for the sizes worth pooling.
   */
  #writeBuffer(len: number): Buffer {
    return len >= 4096 && len <= POOL_SIZE ? this.#pooled(len) : Buffer.allocUnsafe(len);
  }

  /** A buffer from the pool of its size class (64 KiB or 256 KiB). */
  #pooled(len: number): Buffer {
    const big = len > 65536;
    const pool = big ? this.#poolBig : this.#pool;
    let ab = pool.pop();
    if (ab === undefined) {
      ab = Buffer.allocUnsafeSlow(big ? POOL_SIZE : 65536).buffer as ArrayBuffer;
      this.#owned.add(ab);
    }
    return Buffer.from(ab, 0, len);
  }

  /** Gives a WRITE record's payload back once the transport no longer needs it. */
  release(data: Buffer): void {
    const ab = data.buffer as ArrayBuffer;
    const size = ab.byteLength;
    // Most WRITEs are the caller's own buffer: only a pool's sizes need the WeakSet's answer.
    if ((size !== 65536 && size !== POOL_SIZE) || !this.#owned.has(ab)) return;
    const pool = size > 65536 ? this.#poolBig : this.#pool;
    if (pool.length < 16) pool.push(ab);
  }

  #pool: ArrayBuffer[] = [];
  #poolBig: ArrayBuffer[] = [];
  #owned = new WeakSet<ArrayBuffer>();
  /** The payload of the current apiWrite when it was not copied into scratch (see OP_FILL). */
  #unfilled: Uint8Array | null = null;
  /** The caller's buffer whose bytes the current input put at the start of scratch, if one. */
  #source: Uint8Array | null = null;

  /** Calls one export with `now`; `payload` bytes of scratch belong to this input. */
  #call(name: string, args: number[], payload: number, before?: (result: number) => void,
    now: number = this.#owner.now()): number {
    if (this.#dead) {
      this.#source = null;
      this.#unfilled = null;
      return -1;
    }
    const tap = this.tap;
    const it = this.inputTap;
    // The payload, for the taps only: in scratch, or (apiWrite) still in the caller's buffer.
    const unfilled = this.#unfilled;
    const view = payload === 0 || (tap === null && it === null) ? null
      : unfilled !== null ? unfilled.subarray(0, payload) : this.#mem().subarray(this.scratch, this.scratch + payload);
    const bytes = tap && view !== null ? new Uint8Array(view) : null; // a copy (Buffer#slice is a view)
    const id = inputId(name);
    if (it !== null) {
      try {
        now = it.input(id > 0 ? id : inputInfo(name).id, now, args, view, this.#depth, this.#depth > 0 ? this.#at[this.#depth - 1] : 0);
      } catch (err) {
        this.#source = null;
        this.#unfilled = null;
        throw err;
      }
      this.#outHash = OUT_SEED;
    }
    this.#payloadLen = payload;
    let result: number;
    try {
      result = callExport(id > 0 ? this.#fns[id - 1] : this.#x[name] as Export, now, args);
    } catch (err) {
      this.#source = null;
      this.#unfilled = null;
      this.#die(err);
      return -1;
    }
    this.#source = null; // only this input's own records may point at its caller's buffer
    this.#unfilled = null;
    // The arguments are read here for the last time: the taps may make inputs of their own
    // (a replay plays the transport's), and those reuse the argument arrays (#v).
    const h = args[0];
    if (tap) tap.call(name, now, [...args], bytes, result, this.#pending.slice(0, this.#count), this.#x.digest(inputHandle(name, args, result)));
    if (it !== null) it.output(result, this.#outHash, this.#stateDigest(inputHandle(name, args, result)));
    before?.(result);
    if (result < 0 && this.#dataChunk !== null && name === 'onData') this.#keep(h, result);
    this.#flush();
    return result;
  }

  /**
   * The hot inputs (writes, reads, write confirmations) with no tap and a live core: #call's
   * work without its argument arrays. The current input's buffers are forgotten afterwards.
   */
  #fast(name: 'apiWrite' | 'onData' | 'onWritten', h: number, x: number, y: number): number {
    let now = this.#owner.now();
    const it = this.inputTap;
    const payload = name === 'onWritten' ? 0 : x;
    const id = name === 'apiWrite' ? ID_WRITE : name === 'onData' ? ID_DATA : ID_WRITTEN;
    if (it !== null) {
      const a = this.#v(3, h, x, y);
      let bytes: Uint8Array | null = null;
      if (payload > 0) {
        // What the input carries: the caller's own buffer where scratch was not filled
        // (zero-copy writes) or holds a copy of it, else scratch itself.
        const src = this.#unfilled ?? this.#source;
        bytes = src !== null && src.length >= payload ? (src.length === payload ? src : src.subarray(0, payload))
          : this.#mem().subarray(this.scratch, this.scratch + payload);
      }
      try {
        now = it.input(id, now, a, bytes,
          this.#depth, this.#depth > 0 ? this.#at[this.#depth - 1] : 0);
      } catch (err) {
        this.#source = null;
        this.#unfilled = null;
        throw err;
      }
      this.#outHash = OUT_SEED;
    }
    this.#payloadLen = payload;
    let r: number;
    try {
      r = this.#fns[id - 1](now, h, x, y);
    } catch (err) {
      this.#source = null;
      this.#unfilled = null;
      this.#die(err);
      return -1;
    }
    this.#source = null;
    this.#unfilled = null;
    if (it !== null) it.output(r, this.#outHash, this.#stateDigest(h));
    if (r < 0 && this.#dataChunk !== null && name === 'onData') this.#keep(h, r);
    this.#flush();
    return r;
  }

  /** The state digest an inputTap's record holds (outhash.ts): by words in traces of outputs 3 and 4. */
  #stateDigest(h: number): number {
    return this.outputDigest >= 3 ? this.#x.digestWords(h) : this.#x.digest(h);
  }

  #flush(): void {
    const count = this.#count;
    if (count === 0) return;
    const batch = this.#pending;
    // Records of inputs nested in this one's handling go to another array. A handled batch's
    // array is kept for a later input (an array per input was a tenth of what a connection
    // allocated).
    this.#pending = this.#spare.pop() ?? [];
    this.#count = 0;
    const depth = ++this.#depth;
    const st = (this.#walks[depth - 1] ??= { pass: 0, i: 0, step: 0, last: 0, later: null, k: 0 });
    st.pass = 0; st.i = 0; st.step = 0; st.last = 0; st.later = null; st.k = 0;
    let done = false;
    try {
      this.#walk(batch, count, depth, st);
      done = true;
    } finally {
      // A record's handler ran user code that threw (an event listener). The exception goes on
      // from where it was thrown, not caught and thrown again here: Node prints an uncaught
      // exception's place, which must be the listener's line, as on node:net. The rest of the
      // batch still happens first, or the transport would miss commands (an exception in one
      // libuv callback leaves the others). Another exception of the same batch is uncaught
      // after it, as from a callback of its own.
      while (!done) {
        try {
          this.#walk(batch, count, depth, st);
          done = true;
        } catch (err) {
          queueMicrotask(() => { throw err; });
        }
      }
      this.#depth = depth - 1;
      for (let i = 0; i < count; i++) batch[i] = null!; // handled: nothing of them is kept alive here
      this.#spare.push(batch);
    }
  }

  /** Where each depth's #walk is (reused: a walk per input would be an object per input). */
  #walks: Walk[] = [];

  /**
   * Handles a batch's records from where `st` says on: commands first, then notifications, each
   * in the order emitted (the transport carries out every decision of this input before user
   * code runs on its events, and maybe calls more inputs, whose commands must come after these);
   * then the READ_STARTs of sockets with kept bytes. `st` moves on before each step that may
   * throw, so a walk taken up again after an exception goes on after that step.
   */
  #walk(batch: Output[], count: number, depth: number, st: Walk): void {
    const at = this.#at;
    for (; st.pass < 2; st.pass++, st.i = 0) {
      for (; st.i < count; st.i++, st.step = 0) {
        const i = st.i;
        const o = batch[i];
        if (this.#dead) break;
        if ((o.op >= FIRST_NOTIFICATION) !== (st.pass === 1)) continue;
        at[depth - 1] = i;
        if (st.step === 0) {
          st.step = 1;
          st.last = i;
          let kept = false;
          const cmds = this.#readCmds;
          if (cmds !== null && (o.op === Op.CMD_READ_START || o.op === Op.CMD_READ_STOP || o.op === Op.CMD_CLOSE)) {
            const n = (cmds.get(o.h) ?? 0) + 1;
            if (o.op === Op.CMD_CLOSE) { cmds.delete(o.h); this.#kept!.delete(o.h); } else cmds.set(o.h, n);
            kept = o.op === Op.CMD_READ_START && this.#kept!.has(o.h);
            if (kept) (st.later ??= []).push(i, n);
          }
          if (!kept) this.#owner.dispatch(o);
        }
        if (st.step === 1) {
          st.step = 2;
          const it = this.inputTap;
          if (it !== null && it.dispatched !== undefined) it.dispatched(depth, i);
        }
      }
    }
    const later = st.later;
    if (later !== null) {
      // As if right after the last record handled (a replay of the trace feeds them there).
      at[depth - 1] = st.last;
      while (st.k < later.length) {
        const k = st.k;
        st.k += 2;
        this.#replayKept(batch[later[k]], later[k + 1]);
      }
    }
  }

  #die(err: unknown): void {
    const said = this.#loaded.drainDiagnostics().trim();
    const detail = said || (err instanceof Error ? err.message : String(err));
    this.#dead = new CoreTrap(`wasinet core trapped: ${detail}`, { cause: err });
    this.#pending = [];
    this.#count = 0;
    this.#owner.trapped(this.#dead);
  }

  /** The reused argument array of arity `n`, holding the first `n` of the arguments given. */
  #v(n: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, k = 0): number[] {
    const v = this.#argv[n];
    if (n > 0) v[0] = a;
    if (n > 1) v[1] = b;
    if (n > 2) v[2] = c;
    if (n > 3) v[3] = d;
    if (n > 4) v[4] = e;
    if (n > 5) v[5] = f;
    if (n > 6) v[6] = g;
    if (n > 7) v[7] = k;
    return v;
  }

  /**
   * Writes `s` as UTF-8 into scratch at `p`, then a NUL; returns its byte length. Addresses and
   * names are ASCII: written as they are, with no view made for the encoder.
   */
  #put(p: number, s: string): number {
    const mem = this.#mem();
    const end = this.scratch + this.scratchSize - 1;
    const n = s.length;
    if (p + n <= end) {
      let i = 0;
      while (i < n) {
        const ch = s.charCodeAt(i);
        if (ch >= 0x80) break;
        mem[p + i++] = ch;
      }
      if (i === n) {
        mem[p + n] = 0;
        return n;
      }
    }
    const r = enc.encodeInto(s, mem.subarray(p, end));
    mem[p + r.written] = 0;
    return r.written;
  }

  #bytes(src: Uint8Array): void {
    this.#mem().set(src, this.scratch);
  }

  // ------------------------------------------------------------ API inputs

  apiSocket(before?: (h: number) => void): number {
    return this.#call('apiSocket', this.#v(0), 0, before);
  }

  apiConnect(h: number, target: number, port: number, localPort: number, host: string, localAddress: string,
    resolveFlags: number, attemptMs: number): number {
    const hl = this.#put(this.scratch, host);
    const ll = this.#put(this.scratch + hl + 1, localAddress);
    return this.#call('apiConnect', this.#v(8, h, target, port, localPort, hl, ll, resolveFlags, attemptMs), hl + 1 + ll);
  }

  /**
   * Offers src (at most writeLimit bytes); returns the bytes taken or a negative errno.
   * Offered without copying: what the core hands on at once goes out from the caller's own
   * buffer (#source), and the core asks for the rest (OP_FILL) if it has to queue it. So a
   * payload may be larger than scratch (docs/abi.md, FILL_AT): a 1 MiB write is one WRITE, which
   * the transport writes as the socket drains (as libuv does node:net's), not four.
   */
  apiWrite(h: number, src: Uint8Array, last: boolean): number {
    const len = src.length;
    this.#unfilled = src;
    this.#source = src;
    if (this.tap || this.#dead) return this.#call('apiWrite', this.#v(3, h, len, last ? 1 : 0), len);
    return this.#fast('apiWrite', h, len, last ? 1 : 0);
  }

  /** Offers the concatenation of `parts` (`total` bytes, at most scratchSize) as one piece. */
  apiWriteParts(h: number, parts: readonly Uint8Array[], total: number, last: boolean): number {
    if (parts.length === 1 && parts[0].length === total) return this.apiWrite(h, parts[0], last);
    const mem = this.#mem();
    let p = this.scratch;
    for (const part of parts) {
      mem.set(part, p);
      p += part.length;
    }
    this.#source = null;
    if (this.tap || this.#dead) return this.#call('apiWrite', this.#v(3, h, total, last ? 1 : 0), total);
    return this.#fast('apiWrite', h, total, last ? 1 : 0);
  }

  /** `kind` 0: `fd` is a file descriptor; 1: the backend's token for a stream handle (adoptHandle). */
  apiOpen(h: number, fd: number, kind = 0): number { return this.#call('apiOpen', this.#v(3, h, fd, kind), 0); }
  apiEnd(h: number): number { return this.#call('apiEnd', this.#v(1, h), 0); }
  /** `max` 0: everything, in chunks of 64 KiB; `max` > 0: one DATA of at most `max` bytes (onread). */
  apiRead(h: number, max = 0): number { return this.#call('apiRead', this.#v(2, h, max), 0); }
  apiPause(h: number): number { return this.#call('apiPause', this.#v(1, h), 0); }
  /** `flags`: 1 reset (RST), 2 destroyed with an error (CLOSED says so). */
  apiDestroy(h: number, flags: number): number { return this.#call('apiDestroy', this.#v(2, h, flags), 0); }
  apiSetTimeout(h: number, ms: number): number { return this.#call('apiSetTimeout', this.#v(2, h, ms), 0); }
  apiSetOption(h: number, opt: number, value: number, value2: number): number {
    return this.#call('apiSetOption', this.#v(4, h, opt, value, value2), 0);
  }
  apiRef(h: number, on: boolean): number { return this.#call('apiRef', this.#v(2, h, on ? 1 : 0), 0); }
  /** The transport's answer for the local (apiLocalName) or peer's (apiPeerName) name of `h`, asked for on first use (docs/abi.md). */
  apiName(h: number, peer: boolean, port: number, address: string): number {
    const len = this.#put(this.scratch, address);
    return this.#call(peer ? 'apiPeerName' : 'apiLocalName', this.#v(3, h, port, len), len);
  }
  apiRefreshTimeout(h: number): number { return this.#call('apiRefreshTimeout', this.#v(1, h), 0); }
  apiFlush(): number { return this.#call('apiFlush', this.#v(0), 0); }

  apiListen(port: number, backlog: number, flags: number, address: string, prev: number, maxConnections: number,
    before?: (h: number) => void): number {
    const len = this.#put(this.scratch, address);
    return this.#call('apiListen', this.#v(6, port, backlog, flags, len, prev, maxConnections), len, before);
  }

  apiServerClose(h: number): number { return this.#call('apiServerClose', this.#v(1, h), 0); }
  /** The stack's policy table (host/net/policy.ts encodes it); 0, or EINVAL for a malformed one. */
  apiPolicy(table: Uint8Array): number {
    this.#bytes(table);
    return this.#call('apiPolicy', this.#v(1, table.length), table.length);
  }
  /** The stack's limits, in the order of assembly/limits.ts; -1 for none. */
  apiLimits(values: readonly number[]): number { return this.#call('apiLimits', [...values], 0); }
  /** TCP sockets batch writes of up to `max` bytes, `cap` bytes in all (docs/abi.md, Batching). */
  apiBatching(max: number, cap: number): number { return this.#call('apiBatching', this.#v(2, max, cap), 0); }
  apiSetMaxConnections(h: number, n: number): number { return this.#call('apiSetMaxConnections', this.#v(2, h, n), 0); }
  apiTimerSet(id: number, delay: number): number { return this.#call('apiTimerSet', this.#v(2, id, delay), 0); }
  apiTimerClear(id: number): number { return this.#call('apiTimerClear', this.#v(1, id), 0); }

  // ------------------------------------------------------------ transport inputs

  /** The lookup's valid addresses in its order; returns how many the core will try (`before` sees it first). */
  onResolved(h: number, addresses: readonly ResolvedAddress[], before?: (tried: number) => void): number {
    const mem = this.#mem();
    let p = this.scratch;
    for (const { address, family } of addresses) {
      const r = enc.encodeInto(address, mem.subarray(p + 2, p + 2 + 255));
      mem[p] = family;
      mem[p + 1] = r.written;
      p += 2 + r.written;
    }
    const len = p - this.scratch;
    return this.#call('onResolved', this.#v(3, h, addresses.length, len), len, before);
  }

  onConnect(h: number, status: number, op: number, credit: number, localPort: number, remotePort: number,
    family: number, localAddress: string, remoteAddress: string): number {
    let len = 0;
    if (status === 0) {
      const ll = this.#put(this.scratch, localAddress);
      len = ll + 1 + this.#put(this.scratch + ll + 1, remoteAddress);
    } else if (localAddress) {
      len = this.#put(this.scratch, localAddress); // CONNECT_AT_ONCE: the local address:port
    }
    return this.#call('onConnect', this.#v(8, h, status, op, credit, localPort, remotePort, family, len), len);
  }

  /**
   * Bytes from the peer; split into scratch-sized inputs. Where the core's limits leave no room
   * for all of a read (a socketBuffer smaller than one read), the core takes what fits and stops
   * the transport (READ_STOP); the rest stays here and is offered again, before anything the
   * transport reads later, when the core starts it again (#replayKept).
   */
  onData(h: number, chunk: Uint8Array): void {
    this.#offerRead(h, chunk, false);
  }

  /**
   * Bytes from the peer in a buffer the transport reuses for its next read: copied into
   * scratch, and never handed on as they are (DATA gets its own copy; bytes kept, a copy too).
   */
  onDataBorrowed(h: number, buf: Uint8Array, len: number): void {
    this.#offerRead(h, buf.subarray(0, len), true);
  }

  #offerRead(h: number, chunk: Uint8Array, borrowed: boolean): void {
    const size = this.scratchSize;
    // Inputs nest (a READ_START handled inside this one may offer other bytes): kept as a stack.
    const outer = this.#dataChunk;
    const outerEnd = this.#dataEnd;
    const outerBorrowed = this.#dataBorrowed;
    this.#dataChunk = chunk;
    this.#dataBorrowed = borrowed;
    try {
      for (let off = 0; off < chunk.length; off += size) {
        const piece = chunk.length <= size ? chunk : chunk.subarray(off, Math.min(off + size, chunk.length));
        this.#dataEnd = off + piece.length;
        // A borrowed buffer is never handed on (#source): the transport reads into it again.
        this.#source = borrowed ? null : piece;
        const slow = this.tap !== null || this.#dead !== null;
        // Otherwise offered without copying, as apiWrite's: a flowing socket hands the
        // transport's buffer on as DATA, and the core asks for the bytes (OP_FILL) only when it
        // has to queue them.
        if (borrowed || slow) this.#bytes(piece);
        else this.#unfilled = piece;
        const r = slow ? this.#call('onData', this.#v(2, h, piece.length), piece.length) : this.#fast('onData', h, piece.length, 0);
        if (this.#dead || r < 0) return;
      }
    } finally {
      this.#dataChunk = outer;
      this.#dataEnd = outerEnd;
      this.#dataBorrowed = outerBorrowed;
    }
  }

  /**
   * The core took all but the last -r bytes of the piece just offered (onData's negative
   * result): those, and the rest of the read, wait here for the core's next READ_START.
   */
  #keep(h: number, r: number): void {
    const c = this.#dataChunk!;
    const from = this.#dataEnd + r;
    const rest = this.#dataBorrowed ? c.slice(from) : c.subarray(from);
    (this.#kept ??= new Map()).set(h, rest);
    this.#readCmds ??= new Map();
  }

  /**
   * READ_START for a socket with bytes kept, after the notifications of the input that started
   * it (they carry older bytes): the kept bytes go to the core first (an input of their own),
   * unless the socket stopped or started again meanwhile. The transport is started only if the
   * core took them all and did not stop reading while it did.
   */
  #replayKept(o: Output, seen: number): void {
    const cmds = this.#readCmds!;
    const kept = this.#kept!.get(o.h);
    if (kept === undefined || (cmds.get(o.h) ?? 0) !== seen || this.#dead) return;
    this.#kept!.delete(o.h);
    this.onData(o.h, kept);
    if ((cmds.get(o.h) ?? 0) === seen && !this.#kept!.has(o.h) && !this.#dead) this.#owner.dispatch(o);
  }

  onBound(h: number): number { return this.#call('onBound', this.#v(1, h), 0); }
  onEof(h: number): number { return this.#call('onEof', this.#v(1, h), 0); }
  onWritten(h: number, flushed: number, credit: number): number {
    if (this.tap || this.#dead) return this.#call('onWritten', this.#v(3, h, flushed, credit), 0);
    return this.#fast('onWritten', h, flushed, credit);
  }
  onShutdown(h: number, status: number): number { return this.#call('onShutdown', this.#v(2, h, status), 0); }
  onError(h: number, errno: number, op: number): number { return this.#call('onError', this.#v(3, h, errno, op), 0); }
  onClosed(h: number): number { return this.#call('onClosed', this.#v(1, h), 0); }
  onTimer(): number { return this.#call('onTimer', this.#v(0), 0); }

  onListening(h: number, status: number, op: number, port: number, family: number, address: string): number {
    const len = this.#put(this.scratch, address);
    return this.#call('onListening', this.#v(6, h, status, op, port, family, len), len);
  }

  onConnection(h: number, credit: number, family: number, localPort: number, remotePort: number,
    localAddress: string, remoteAddress: string, before: (h: number) => void): number {
    const ll = this.#put(this.scratch, localAddress);
    const len = ll + 1 + this.#put(this.scratch + ll + 1, remoteAddress);
    return this.#call('onConnection', this.#v(5, h, credit, family, localPort + remotePort * 65536, len), len, before);
  }

  /** Replays one recorded input: scratch gets `payload`, the export gets `now` and `args`. */
  replayInput(name: string, now: number, args: readonly number[], payload: Uint8Array | null): number {
    // A write's payload is offered as apiWrite offers it (it may be larger than scratch).
    if (payload && name === 'apiWrite') {
      this.#unfilled = payload;
      this.#source = payload;
    } else if (payload) {
      this.#bytes(payload);
    }
    return this.#call(name, [...args], payload ? payload.length : 0, undefined, now);
  }

  // ------------------------------------------------------------ queries (not traced)

  /** Bytes the transport delivered to socket `h` (Node's bytesRead); -1 for a freed handle. */
  bytesRead(h: number): number { return this.#x.bytesRead(h); }
  /** The next socket or listener made gets handle `h` (an application replay's: the recorded one). Not an input. */
  replayNextHandle(h: number): void { this.#x.replayNextHandle(h); }
  writeQueueSize(h: number): number { return this.#x.writeQueueSize(h); }
  /** Bytes received and not yet delivered to the consumer. */
  readQueueSize(h: number): number { return this.#x.readQueueSize(h); }
  /** Bit 0: the consumer wants data (reading); bit 1: the socket keeps the process alive. */
  socketFlags(h: number): number { return this.#x.socketFlags(h); }
  /** Bytes an apiWrite of `h` would hand to the transport at once now (a query, not an input). */
  writeRoom(h: number): number { return this.#x.writeRoom(h); }
  connections(h: number): number { return this.#x.connections(h); }
  /** Whether listener `h` drops its next connection for maxConnections (its names are then given at once). */
  dropsNext(h: number): boolean { return this.#x.dropsNext(h) === 1; }
  maxConnections(h: number): number { return this.#x.maxConnections(h); }
  /** A listener's state (ListenerState); -1 once the core freed it (failed, or closed and drained). */
  listenerState(h: number): number { return this.#x.listenerState(h); }
  /** One of the core's usage counters (assembly/index.ts, usage). */
  usage(what: number): number { return this.#x.usage(what); }
}
