// Replaying an application: createStack({ replay: FILE }) runs the same application code offline
// against a recording (trace format 2).
//
// A recording is one ordered list of the core's inputs. Those of the transport (on*: connections,
// data, EOF, errors, write confirmations, timers, resolved names) are played by the replayer;
// those of the application (api*: connect, write, end, destroy, setTimeout …) are made by the
// application again, and the replayer checks each, as it is made, against the next one recorded.
// Every input gets its recorded `now`, so the core and the application see the recorded clock.
//
// When is a transport input played? Where the recording says it happened:
// - nested in the handling of an output record (a write the kernel took at once, a connect that
//   failed at once): right after the stack handled that record at the same depth (the core's
//   `dispatched` hook), before the next one;
// - from the event loop (depth 0): once the application has made every call recorded before it,
//   on a later turn, where the event loop polls for I/O as a real socket's events come (a
//   message on a MessageChannel of the replayer's own): the application's promises and nextTicks
//   run first; its setImmediate callbacks run first only when the recording says the event came
//   in a later iteration of the loop than the turn before it (FLAG_SAME_LOOP; a recording
//   without that mark plays every event after them) — or in the same turn when the recording
//   says so; `speed` paces these at the recorded gaps;
// - in the turn of the application's call recorded just before it (FLAG_SAME_TURN after a call:
//   a socket whose reading resumed gives what it had buffered, from a tick): from a tick of that
//   turn, before the event loop goes on;
// - a resolved name: through the stack's own lookup path (the replay backend answers lookups
//   from the recording), so the socket emits 'lookup' as it did.
// When the next recorded input is the application's and it does not come within `wait` ms of
// wall time, or a call differs, the replay stops there with a Divergence: which socket, which
// call, recorded against actual, and the application's stack where it made the call. After a
// divergence nothing more is played; the application's calls go to the core unchecked.
import type { TlsState } from '../backend/tls-state.js';
import { readTrace, type InputRecord } from './reader.js';
import { outputDigestOf, writeDigest } from './format.js';
import type { OutputDigest } from '../core/outhash.js';
import { inputById, inputHandle } from '../core/inputs.js';
import { describeInput, Lanes, preview, resolvedAddresses } from './describe.js';
import { dnsException } from '../core/errno.js';
import { appStack, formatAppDivergence, ReplayDivergenceError, type AppDivergence } from './divergence.js';
export { formatAppDivergence, ReplayDivergenceError, type AppDivergence } from './divergence.js';
export { ReplayBackend } from './replay-backend.js';
import { ERRNO } from '../core/abi.js';
import type { Core, InputTap } from '../core/core.js';
import type { LookupCallback, LookupOptions } from '../backend/backend.js';
import { randomHeaderOf, replayRandom, type RandomDraw } from './random.js';
import { clockHeaderOf, replayClock, type ClockRead } from './clock.js';
import { fireDue, fireHeld, fireRecorded, heldTimers, nextDue, nextRecorded, realClearTimeout, type TimerRun, realSetTimeout, releaseTimers, replayTimers, type TimerClock } from './timers.js';

/** #schedule's delay for an event of the turn under way (#pump). */
const SAME_TURN = -2;

interface Port {
  onmessage: ((ev: unknown) => void) | null;
  postMessage(m: unknown): void;
  ref?(): void;
  unref?(): void;
}

/**
 * Runs a function where the event loop polls for I/O: a message to a MessageChannel port of its
 * own (libuv delivers it as an I/O event). A transport event played so comes where a real
 * socket's would: after the timers of its loop iteration and before its setImmediate callbacks
 * — or, when the recording says it came in a later iteration than the turn before it, after
 * them. Played from setImmediate always (as before the recordings said), an application that
 * writes from setImmediate (a byte a turn, say) made its next write before the data event
 * recorded ahead of it, and the replay had to take the write out of order. Where there is no
 * MessageChannel, or the recording does not say: setImmediate. The port holds the process
 * open only while a message is on its way.
 */
class PollPhase {
  #port: Port | null = null;
  #send: Port | null = null;
  /**
   * What runs when the message comes. One at a time: the replayer's #schedule is its only caller,
   * and schedules nothing more until the function it gave has run.
   */
  #pending: (() => void) | null = null;

  /**
   * `sameLoop`: the turn came in the same iteration of the event loop as the one before it (null
   * when the recording does not say: then after the application's setImmediate callbacks).
   */
  soon(fn: () => void, sameLoop: boolean | null): void {
    if (sameLoop === null || typeof MessageChannel !== 'function') {
      setImmediate(fn);
      return;
    }
    if (this.#port === null) {
      const { port1, port2 } = new MessageChannel() as unknown as { port1: Port; port2: Port };
      port1.onmessage = () => this.#run();
      this.#port = port1;
      this.#send = port2;
    }
    this.#pending = fn;
    this.#port.ref?.();
    // A port handles the messages posted while it handles its own in the same poll for I/O: a
    // turn of the same iteration is played there and then. One of a later iteration waits for
    // the application's setImmediate callbacks (the check phase) first, as it did.
    if (sameLoop) this.#post();
    else setImmediate(this.#post);
  }

  readonly #post = (): void => { this.#send!.postMessage(null); };

  #run(): void {
    const fn = this.#pending;
    this.#pending = null;
    this.#port!.unref?.(); // (soon() refs it again)
    // Not from the message's listener itself: Node's EventTarget catches what a listener throws
    // and throws it again from a tick of its own, so an exception of the application's (an event
    // listener of its that throws) would be printed as thrown there, not where the application
    // threw it. A tick queued here runs right after the listener, in the same poll for I/O.
    if (fn !== null) process.nextTick(fn);
  }
}

export interface ReplayOptions {
  path: string;
  /** Wall-clock ms to wait for a recorded application call before calling it missing (default 2000). */
  wait?: number;
  /** Pace of the transport's inputs from the event loop: Infinity (default) as fast as the app goes, 1 the recorded gaps. */
  speed?: number;
  /** Called once, at the first divergence (default: the report goes to stderr). */
  onDivergence?: (d: AppDivergence) => void;
  /**
   * The program's setTimeout and setInterval go by the recording's clock while the replay runs
   * (default true; timers.ts): false leaves them on the wall clock.
   */
  timers?: boolean;
  /** Also throw the divergence into the application's call that made it (to stop there under a debugger). */
  throw?: boolean;
}

export interface ReplayOutcome {
  ok: boolean;
  /** Recorded inputs replayed (matched or played). */
  inputs: number;
  total: number;
  divergence: AppDivergence | null;
}

/** The replay's handle on a stack: `done` settles when the recording is used up or diverges. */
export interface Replaying {
  readonly path: string;
  readonly done: Promise<ReplayOutcome>;
  /** Recorded inputs replayed so far. */
  readonly position: number;
}

const sameArgs = (r: InputRecord, args: ArrayLike<number>): boolean => {
  for (let i = 0; i < r.args.length; i++) if (!Object.is(r.args[i], args[i]) && r.args[i] !== args[i]) return false;
  return true;
};
/**
 * Whether `b` is the payload of record `r`: byte for byte, or for a write the recording kept in
 * part (`partial`), its head byte for byte and the whole by its digest (writeDigest).
 */
const samePayload = (r: InputRecord, b: Uint8Array | null): boolean => {
  const a = r.payload;
  if ((a?.length ?? 0) !== (b?.length ?? 0)) return false;
  if (a === null || b === null) return true;
  if (sameBytes(r, a, b)) return true;
  const c = withRecordedDate(a, b, r.partial?.head ?? a.length);
  return c !== null && sameBytes(r, a, c);
};
const sameBytes = (r: InputRecord, a: Uint8Array, b: Uint8Array): boolean => {
  const s = r.partial;
  if (s === undefined) return Buffer.compare(a, b) === 0;
  return Buffer.compare(a.subarray(0, s.head), b.subarray(0, s.head)) === 0 && writeDigest(b, b.length) === s.digest;
};

const HTTP = Buffer.from('HTTP/1.');
const DATE = Buffer.from('\r\nDate: ');
const GMT = Buffer.from(' GMT\r\n');
/** An IMF-fixdate ("Mon, 07 Dec 2026 10:08:40 GMT"): its length. */
const IMF_FIXDATE = 29;
/**
 * `b` with the value of the Date header of an HTTP response head taken from `a` (the recorded
 * write), or null where `b` is no such head. Node's http server writes that header from the
 * wall clock, which a replay cannot set back (its modules keep their own Date), so a replayed
 * response would otherwise differ from the recorded one whenever the second did. Only the value's
 * 29 bytes are taken, and only where both are dates at the same place: whatever else differs
 * still does. `kept`: how many of `a`'s bytes the recording kept (its head of a long write).
 */
function withRecordedDate(a: Uint8Array, b: Uint8Array, kept: number): Uint8Array | null {
  const bb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (bb.length < HTTP.length || bb.compare(HTTP, 0, HTTP.length, 0, HTTP.length) !== 0) return null;
  const at = bb.subarray(0, Math.min(bb.length, 8192)).indexOf(DATE);
  if (at < 0) return null;
  const value = at + DATE.length;
  const end = value + IMF_FIXDATE;
  if (end + 2 > kept || end + 2 > bb.length) return null;
  const ab = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  for (const x of [ab, bb]) if (x.compare(GMT, 0, GMT.length, end - 4, end + 2) !== 0) return null;
  if (ab.compare(DATE, 0, DATE.length, at, value) !== 0) return null;
  const c = Buffer.from(bb);
  c.set(ab.subarray(value, end), value);
  return c;
}

/** The call's payload as recorded: a write the core took only part of keeps the part taken (recorder.ts). */
const recordedPart = (r: InputRecord, payload: Uint8Array | null): Uint8Array | null => {
  if (r.name !== 'apiWrite' || payload === null) return payload;
  const kept = r.payload?.length ?? 0;
  if (kept >= payload.length || kept !== Math.max(0, r.result)) return payload;
  return kept > 0 ? payload.subarray(0, kept) : null;
};

/**
 * Where the payload of a call differs from the recorded one when the call is otherwise the same
 * (a message id, a timestamp in the middle of a write): its first differing byte, and both
 * payloads from a little before it. Null when the calls differ otherwise.
 */
function payloadDifference(r: InputRecord, id: number, args: ArrayLike<number>, payload: Uint8Array | null): AppDivergence['bytes'] {
  const a = r.payload;
  const actual = recordedPart(r, payload);
  if (r.id !== id || !sameArgs(r, args) || a === null || actual === null) return undefined;
  // A response's Date is not what differs (withRecordedDate); the bytes shown are the actual ones.
  const b = a.length === actual.length ? withRecordedDate(a, actual, r.partial?.head ?? a.length) ?? actual : actual;
  const s = r.partial;
  // Of a write kept in part, only the head can be compared byte by byte.
  const n = Math.min(s?.head ?? a.length, a.length, b.length);
  let at = 0;
  while (at < n && a[at] === b[at]) at++;
  if (at === a.length && at === b.length) return undefined;
  const from = Math.max(0, at - 16);
  const show = (p: Uint8Array): string => (from > 0 ? '…' : '') + (preview(p.subarray(from), 48) || '(nothing)');
  if (s !== undefined && at === s.head && a.length === b.length) {
    if (writeDigest(b, b.length) === s.digest) return undefined;
    return {
      at, recorded: `(bytes ${s.head}–${s.length} not kept: the digest of the write differs; record with writeHead: Infinity to see them)`,
      actual: show(actual),
    };
  }
  // A TLS handshake record (content type 22, version 3.x): its random bytes are OpenSSL's.
  const tls = a.length > 5 && a[0] === 0x16 && a[1] === 0x03 && a[2] <= 0x04;
  return {
    at, recorded: show(a), actual: show(actual),
    ...(tls ? { note: 'a TLS handshake record: TLS draws its randomness inside OpenSSL, which a replay does not reach, so a TLS session over a recorded socket does not replay' } : {}),
  };
}

/**
 * The handle each recorded input made: the core numbers sockets and listeners one after the
 * other, so apiSocket's and onConnection's results are theirs, and an apiListen (whose result is a
 * status) made the next number. 0 where an input made none.
 */
function handlesMade(records: readonly InputRecord[]): Uint32Array {
  const made = new Uint32Array(records.length);
  let next = 1;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    let h = 0;
    if (r.name === 'apiSocket' || r.name === 'onConnection') h = r.result > 0 ? r.result : 0;
    else if (r.name === 'apiListen') h = next;
    if (h !== 0) {
      made[i] = h;
      if (h >= next) next = h + 1;
    }
  }
  return made;
}

export class AppReplayer implements InputTap, Replaying {
  readonly path: string;
  readonly done: Promise<ReplayOutcome>;
  readonly #records: InputRecord[];
  /** How the recording digested outputs (its header's `outputs`). */
  readonly #outputs: OutputDigest;
  readonly #lookupErrors: { hostname?: string; code?: string }[] = [];
  /** The TLS sessions' states, per handle in the order the sockets asked (host/net/tls.ts). */
  readonly #tls = new Map<number, (TlsState | null)[]>();
  readonly #opts: ReplayOptions;
  readonly #lanes = new Lanes();
  #settle!: (o: ReplayOutcome) => void;
  #next = 0;
  #core: Core | null = null;
  #stopped = false;
  /** The recording has its end mark (see `closed`). */
  #closed = false;
  /** The input being checked or played right now (its recorded answer is compared in output()). */
  #current: InputRecord | null = null;
  #playing = false;
  /** A recorded call the application did not make (reported at its next call). */
  #missing: InputRecord | null = null;
  /** The input being checked came from the event loop (not nested in another's records). */
  #atTop = false;
  /**
   * An application call from the event loop that came earlier than recorded (its own timer fired
   * before the transport events recorded ahead of it were played): it is taken where it comes,
   * the cursor follows what it causes (`#detour`, from the position to go back to), and the
   * records so taken are passed over later (`#consumed`). Meanwhile the core's answers are not
   * compared: the order differs; they are again once the cursor is past them.
   */
  #consumed = new Set<number>();
  /** The recording marks turns of one loop iteration (its header's `loops`). */
  readonly #loops: boolean;
  #detour: { from: number; back: number } | null = null;
  #scheduled = false;
  #waitTimer: NodeJS.Timeout | null = null;
  #lastT = 0;
  /** Lookups waiting for their onResolved to come up. */
  #lookups: { cb: LookupCallback; all: boolean; host: unknown }[] = [];

  constructor(opts: ReplayOptions) {
    this.#opts = opts;
    this.path = opts.path;
    const { header, records } = readTrace(opts.path);
    this.#outputs = outputDigestOf(header as { outputs?: unknown });
    this.#loops = (header as { loops?: unknown }).loops === true;
    this.#records = [];
    const draws = new Map<number, RandomDraw>();
    const reads: ClockRead[] = [];
    const timerRuns = new Map<number, TimerRun[]>();
    let k = 0;
    for (const r of records) {
      if (r.kind === 'input') this.#records.push(r);
      else if (r.type === 'lookup-error') this.#lookupErrors.push(r.data as { hostname?: string; code?: string });
      else if (r.type === 'tls') {
        const h = Number(r.data.h);
        let q = this.#tls.get(h);
        if (q === undefined) this.#tls.set(h, q = []);
        q.push((r.data.state ?? null) as TlsState | null);
      }
      else if (r.type === 'random') draws.set(Number(r.data.i), r.data as unknown as RandomDraw);
      else if (r.type === 'clock') reads.push({ s: Number(r.data.s), k: Number(r.data.k), v: Number(r.data.v) });
      else if (r.type === 'timer') {
        const i = Number(r.data.i);
        let q = timerRuns.get(i);
        if (q === undefined) timerRuns.set(i, q = []);
        q.push({ s: Number(r.data.s), t: Number(r.data.t), k: k++ });
      }
      else if (r.type === 'end') this.#closed = true;
    }
    // The application's randomness as recorded (random.ts): Math.random from the recording's
    // seed, the crypto module's draws given back, from now on.
    const random = randomHeaderOf(header as { random?: unknown });
    if (random !== null) {
      replayRandom(random, draws, (what) => {
        process.emitWarning(`the application drew randomness differently from the recording (${what}); what it writes may differ from here`, 'WasinetReplayWarning');
      });
    }
    // The program's Date: each reading as recorded, else the recorded wall time of the input
    // being replayed (clock.ts).
    const clock = clockHeaderOf(header as { clock?: unknown });
    if (clock !== null) replayClock(() => clock.wall + (this.#lastT - clock.now) + (performance.now() - this.#takenAt), reads, () => this.#next);
    this.done = new Promise((resolve) => { this.#settle = resolve; });
    this.#lastT = this.#records[0]?.t ?? 0;
    this.#made = handlesMade(this.#records);
    // A recording that kept where the program's timers ran (its header's `timers`) has them run
    // there; an older one, by their due times on its clock.
    if ((header as { timers?: unknown }).timers === true) this.#timerClock.runs = this.#timerRuns = timerRuns;
    if (opts.timers !== false && this.#records.length > 0) replayTimers(this.#timerClock);
  }

  /** Where the recording's timers ran (a recording that kept them), by their number. */
  #timerRuns: Map<number, TimerRun[]> | null = null;

  /** Where the replay is on the recording's clock, for the program's timers (timers.ts). */
  #clockAt = 0;
  /** performance.now() then. */
  #clockTaken = performance.now();
  readonly #timerClock: TimerClock = {
    // The time of the input (or timer) being replayed, plus the time since, up to the next
    // recorded input: in the recording the program's code between the two took that long.
    now: () => {
      const head = this.#records[this.#next];
      const t = this.#clockAt + (performance.now() - this.#clockTaken);
      return head === undefined ? t : Math.max(this.#clockAt, Math.min(t, head.t));
    },
    mayRun: (due) => {
      if (this.#stopped) return true;
      const r = this.#head();
      // Held ahead of what the recording has before its time: a transport event (or one that
      // came in the same poll for I/O as the turn before it), or an application call (made by
      // something else: another timer due earlier, which the replayer runs first).
      return r === undefined || r.depth > 0 || (r.t >= due && (inputById(r.id)!.api || !this.#inPoll(r)));
    },
    waiting: () => { this.#pump(); },
  };

  /** Whether a timer of the program's runs before recorded input `r` (the next, at depth 0). */
  #timerDue(r: InputRecord): boolean {
    if (this.#timerRuns !== null) return nextRecorded() <= this.#next;
    return nextDue() <= r.t && !(inputById(r.id)!.api ? r.sameTurn : this.#inPoll(r));
  }

  /**
   * Whether recorded input `r` came in the same turn, or the same poll for I/O, as the turn before
   * it: no timers phase came between them, so no timer of the program's runs before it.
   */
  #inPoll(r: InputRecord): boolean {
    return r.sameTurn || (this.#loops && r.sameLoop);
  }

  /** The replay is at recorded time `t` (an input taken, a timer run). */
  #clockTo(t: number): void {
    if (t > this.#clockAt) this.#clockAt = t;
    this.#clockTaken = performance.now();
  }

  /** The handle each recorded input made (0: none), by its place in the recording (handlesMade). */
  readonly #made: Uint32Array;

  get position(): number { return this.#next; }

  /** performance.now() when the last recorded input was taken. */
  #takenAt = performance.now();

  /** The next recorded input not yet taken (passing over those taken early). */
  #head(): InputRecord | undefined {
    while (this.#consumed.has(this.#next) && this.#detour === null) this.#consumed.delete(this.#next++);
    return this.#records[this.#next];
  }

  /** The records an early call caused are taken: the cursor goes back to where it was. */
  #endDetour(): void {
    const d = this.#detour;
    if (d === null) return;
    const r = this.#records[this.#next];
    // Still the early call's: what it caused (nested), the calls of its turn, its writes' flush.
    if (r !== undefined && (r.depth > 0 || (inputById(r.id)!.api && (r.sameTurn || r.name === 'apiFlush')))) return;
    for (let i = d.from; i < this.#next; i++) this.#consumed.add(i);
    this.#next = d.back;
    this.#detour = null;
  }

  /**
   * `call` came from the event loop while the recording has transport events before it: if it
   * is the first application call recorded after them, take it now (see #detour).
   */
  #early(id: number, args: ArrayLike<number>, payload: Uint8Array | null): InputRecord | null {
    if (this.#missing !== null || this.#detour !== null) return null;
    const rs = this.#records;
    const head = rs[this.#next];
    if (head.depth > 0 || inputById(head.id)!.api) return null;
    for (let k = this.#next + 1; k < rs.length && k < this.#next + 512; k++) {
      const x = rs[k];
      // Passed over: the transport's events and what they cause — nested inputs, calls made in
      // their turn (a stream reading on), the stack's flushes. The first call of a turn of its own
      // must be this one.
      if (this.#consumed.has(k) || x.depth > 0 || !inputById(x.id)!.api || x.sameTurn || x.name === 'apiFlush') continue;
      if (x.id !== id || !sameArgs(x, args) || !samePayload(x, recordedPart(x, payload))) return null;
      this.#detour = { from: k, back: this.#next };
      this.#next = k;
      return x;
    }
    return null;
  }

  get total(): number { return this.#records.length; }
  /**
   * The recording has its end mark (its recorder was closed). Without one, the recorded process
   * exited or was killed with the recorder open: what it did after the last input is not in it.
   */
  get closed(): boolean { return this.#closed; }
  /** The recording was used up with every call matched. */
  get finished(): boolean { return this.#stopped && this.#divergence === null; }

  /** The recorded clock: the time of the input last replayed. */
  now(): number { return this.#lastT; }

  attach(core: Core): void {
    this.#core = core;
    core.outputDigest = this.#outputs;
    this.#pump();
  }

  // ------------------------------------------------------------ the tap

  input(id: number, now: number, args: ArrayLike<number>, payload: Uint8Array | null, depth: number): number {
    this.#atTop = depth === 0;
    if (this.#stopped) return now;
    if (this.#playing) {
      // A transport input the replayer plays itself: the record at the cursor.
      this.#playing = false;
      return this.#take(this.#records[this.#next]);
    }
    if (depth === 0) this.#endDetour();
    let r = this.#head();
    if (r === undefined) return this.#lastT;
    const same = (x: InputRecord): boolean => x.id === id && sameArgs(x, args) && samePayload(x, recordedPart(x, payload));
    if (!same(r)) {
      const early = depth === 0 ? this.#early(id, args, payload) : null;
      if (early === null) {
        // After a skipped call, the first call that does not follow the recording is reported
        // against the skipped one: that is where the application first departed from it.
        const m = this.#missing ?? r;
        const late = this.#missing !== null && same(m);
        this.#diverge(m, late ? 'late call' : 'different call', this.#actual(id, args, payload), appStack(),
          payloadDifference(m, id, args, payload));
        if (this.#opts.throw) throw new ReplayDivergenceError(this.#divergence!);
        return now;
      }
      r = early;
    }
    return this.#take(r);
  }

  /** Record `r` (at the cursor) is the input being made now. */
  #take(r: InputRecord): number {
    // A socket or listener it makes gets the recorded handle, also when taken out of order (an
    // early call before the accept recorded ahead of it): every later call names it as recorded.
    const made = this.#made[this.#next];
    if (made !== 0) this.#core?.replayNextHandle(made);
    this.#current = r;
    this.#next++;
    this.#lastT = Math.max(this.#lastT, r.t);
    this.#takenAt = performance.now();
    this.#clockTo(r.t);
    this.#lanes.add(r.seq, r);
    this.#armWait(); // whatever comes next, silence is reported
    return r.t;
  }

  #actual(id: number, args: ArrayLike<number>, payload: Uint8Array | null): string {
    const info = inputById(id)!;
    return describeInput({ name: info.name, args: Array.from(args).slice(0, info.argc), payload: payload && Buffer.from(payload) });
  }

  output(result: number, outHash: number, digest: number): void {
    const r = this.#current;
    this.#current = null;
    if (r === null || this.#stopped) return;
    // Once the application skipped a call, the core's state differs from the recording's: only
    // the application's calls are checked from then on. Nor while a call taken early is ahead.
    const loose = this.#missing !== null || this.#detour !== null || this.#consumed.size > 0;
    if (!loose && (r.result !== result || (r.outHash >>> 0) !== (outHash >>> 0) || (r.digest >>> 0) !== (digest >>> 0))) {
      this.#diverge(r, 'core answered differently',
        `result ${result}, outputs #${(outHash >>> 0).toString(16)}, state #${(digest >>> 0).toString(16)} (recorded: result ${r.result}, outputs #${(r.outHash >>> 0).toString(16)}, state #${(r.digest >>> 0).toString(16)})`, null);
      return;
    }
    if (this.#atTop) this.#pump();
  }

  dispatched(depth: number, index: number): void {
    // Transport inputs recorded inside the handling of this very record.
    while (!this.#stopped) {
      const r = this.#head();
      if (r === undefined || r.depth !== depth || r.index !== index || inputById(r.id)!.api || r.name === 'onResolved') break;
      this.#play(r);
    }
    // A call recorded in the handling of this record that the application did not make.
    const r = this.#head();
    if (!this.#stopped && r !== undefined && r.depth === depth && r.index === index && inputById(r.id)!.api) this.#skip();
    if (depth === 1) this.#pump();
  }

  /**
   * The application did not make the next recorded call (and what it caused): go on with the
   * transport without it, and report it at the application's next call — or as missing, when
   * the recording needs the application again and it stays idle.
   */
  #skip(): void {
    const rs = this.#records;
    const first = this.#head()!;
    this.#missing ??= first;
    let k = this.#next + 1;
    // What the call caused: the inputs nested in it, and those of the same handling after it.
    while (k < rs.length && (rs[k].depth > first.depth || (first.depth > 0 && rs[k].depth === first.depth && rs[k].index === first.index))) k++;
    // The stack's end-of-turn flush of the writes it would have made, and what that caused.
    while (k < rs.length && rs[k].name === 'apiFlush' && rs[k].depth === 0) {
      k++;
      while (k < rs.length && rs[k].depth > 0) k++;
    }
    this.#next = k;
    if (this.#head() === undefined && this.#detour === null) this.#finish();
  }

  reset(): void {
    // A fresh core after a trap: the recording trapped at the same input, so the replay goes on.
  }

  // ------------------------------------------------------------ playing the transport

  #play(r: InputRecord): void {
    this.#playing = true;
    try {
      this.#core!.replayInput(r.name, r.t, r.args, r.payload);
    } finally {
      this.#playing = false;
    }
    this.#armWait();
  }

  /** Looks at the next recorded input: play it, hand it to a waiting lookup, or wait for the app. */
  #pump(): void {
    if (this.#stopped || this.#core === null || this.#scheduled) return;
    this.#endDetour();
    const r = this.#head();
    if (r === undefined) { if (this.#detour === null) this.#finish(); return; }
    // A timer of the program's that ran before the next recorded input (timers.ts) runs now, in
    // a turn of its own, where the event loop polls for I/O: timers of one timers phase run
    // before the loop's check phase, as there (http2 sends what two sessions' timers queued from
    // one immediate: one turn). Where the recording noted where each ran, there; else by its
    // due time on the recording's clock (not before an event of the same poll for I/O).
    if (r.depth === 0 && this.#timerDue(r)) {
      this.#schedule(() => {
        if (this.#timerRuns !== null) {
          fireRecorded(this.#next);
          return;
        }
        const due = nextDue();
        const next = this.#head();
        if (next !== undefined && due <= next.t) {
          this.#clockTo(due);
          fireDue(next.t);
        }
      }, -1, true);
      return;
    }
    if (r.name === 'onResolved' && this.#lookups.length > 0) { this.#schedule(() => this.#answerLookup(r), -1, this.#sameLoop(r)); return; }
    if (r.name === 'apiFlush' && r.depth === 0 && this.#missing !== null) {
      // The stack flushes a turn's writes in a microtask: not made by the next turn, it belonged
      // to a write the application skipped.
      this.#schedule(() => { if (this.#head() === r) this.#skip(); });
      return;
    }
    if (inputById(r.id)!.api || r.depth > 0 || r.name === 'onResolved') { this.#armWait(); return; }
    const speed = this.#opts.speed ?? Infinity;
    // An event of the turn of the application's call just before it (a socket whose reading
    // resumed gives what it had buffered, from a tick): played from a tick too, ahead of what
    // the event loop does next — the application's setImmediate callbacks, Node's own (http2
    // sends what it has queued from one), the next poll for I/O.
    const prev = this.#records[this.#next - 1];
    const inTurn = r.sameTurn && prev !== undefined && prev.depth === 0 && inputById(prev.id)!.api && prev.name !== 'apiFlush';
    const delay = inTurn ? SAME_TURN : speed === Infinity ? -1 : Math.max(0, (r.t - this.#lastT) / speed);
    this.#schedule(() => {
      // In one turn, as recorded: the inputs from the event loop with no microtask between.
      let first = true;
      while (!this.#stopped) {
        this.#endDetour();
        const x = this.#head();
        if (x === undefined || x.depth > 0 || inputById(x.id)!.api || x.name === 'onResolved' || (!first && !x.sameTurn)) break;
        first = false;
        this.#play(x);
      }
    }, delay, this.#sameLoop(r));
  }

  /** Whether `r`'s turn came in the same loop iteration as the turn before (null: the recording does not say). */
  #sameLoop(r: InputRecord): boolean | null {
    return this.#loops ? r.sameLoop : null;
  }

  #schedule(fn: () => void, delay = -1, sameLoop: boolean | null = null): void {
    this.#scheduled = true;
    const run = (): void => {
      this.#scheduled = false;
      if (this.#stopped) return;
      try {
        fn();
      } finally {
        this.#pump();
      }
    };
    if (delay === SAME_TURN) process.nextTick(run);
    else if (delay < 0) this.#poll.soon(run, sameLoop);
    else realSetTimeout(run, delay);
  }

  readonly #poll = new PollPhase();

  /** The replay backend's lookup: answered when the recording's onResolved (or failure) comes up. */
  lookup(host: unknown, options: LookupOptions, cb: LookupCallback): void {
    const r = this.#head();
    const failed = this.#lookupErrors.find((e) => e.hostname === host);
    if (failed && (r === undefined || r.name !== 'onResolved')) {
      this.#lookupErrors.splice(this.#lookupErrors.indexOf(failed), 1);
      setImmediate(() => cb(dnsException(ERRNO[failed.code ?? 'ENOTFOUND'] ?? ERRNO.ENOTFOUND, 'getaddrinfo', String(host)), undefined));
      return;
    }
    this.#lookups.push({ cb, all: options.all === true, host });
    this.#pump();
  }

  /**
   * The name the recorded application was told when it first asked for the local or the peer's
   * name of `h` (its apiLocalName or apiPeerName): the transport's answer, which the replayed
   * application's own call then repeats.
   */
  recordedName(name: 'apiLocalName' | 'apiPeerName', h: number): { address: string; port: number } | null {
    for (let k = this.#next; k < this.#records.length; k++) {
      const r = this.#records[k];
      if (r.name !== name || r.args[0] !== h || this.#consumed.has(k)) continue;
      const p = r.payload;
      return { port: r.args[1], address: p ? Buffer.from(p.buffer, p.byteOffset, p.length).toString('utf8') : '' };
    }
    return null;
  }

  /**
   * The batching the recording's stack gave the core the replay is about to make (apiBatching
   * among the configuration inputs at the cursor), so that the replay's stack gives the same.
   */
  recordedBatching(): readonly [number, number] | undefined {
    for (let k = this.#next; k < this.#records.length; k++) {
      const r = this.#records[k];
      if (r.name === 'apiBatching') return [r.args[0], r.args[1]];
      if (r.name !== 'apiPolicy' && r.name !== 'apiLimits') return undefined;
    }
    return undefined;
  }

  /** The answer the recorded application had when its TLS socket `h` asked what its session is (the next one). */
  tlsState(h: number): TlsState | null {
    return this.#tls.get(h)?.shift() ?? null;
  }

  #answerLookup(r: InputRecord): void {
    const { cb, all } = this.#lookups.shift()!;
    const addresses = resolvedAddresses(r.payload);
    // The socket hands these to onResolved, which the tap checks against the recording.
    if (all) cb(null, addresses);
    else cb(null, addresses[0]?.address, addresses[0]?.family);
  }

  // ------------------------------------------------------------ waiting, ending, diverging

  #armWait(): void {
    if (this.#stopped) return;
    const at = this.#next;
    if (this.#waitTimer) realClearTimeout(this.#waitTimer);
    // At a recorded pace (`speed`), a call recorded a while after the input before it (the
    // application's own timer) is waited for that while too, scaled.
    const speed = this.#opts.speed ?? Infinity;
    const next = this.#records[at];
    const gap = speed !== Infinity && next !== undefined ? Math.max(0, (next.t - this.#lastT) / speed) : 0;
    this.#waitTimer = realSetTimeout(() => {
      this.#waitTimer = null;
      if (this.#stopped || this.#next !== at || this.#scheduled) return;
      const r = this.#head();
      if (r === undefined) { this.#finish(); return; }
      // A timer of the program's still waiting for the replay may be what makes the call (its
      // time on the recording's clock was reckoned late): it runs first.
      if (r.depth === 0 && inputById(r.id)!.api && heldTimers() > 0) {
        fireHeld();
        this.#pump();
        return;
      }
      // Recorded, not made: go on without it (reported at the app's next call that differs, or at the end).
      if (inputById(r.id)!.api || r.depth > 0) { this.#skip(); this.#pump(); return; }
      this.#diverge(this.#missing ?? r, 'missing call', `no such call within ${this.#opts.wait ?? 2000} ms`, null);
    }, (this.#opts.wait ?? 2000) + gap);
  }

  #divergence: AppDivergence | null = null;

  #diverge(r: InputRecord, reason: AppDivergence['reason'], actual: string, stack: string | null,
    bytes?: AppDivergence['bytes']): void {
    if (this.#stopped) return;
    const lane = this.#lanes.of(inputHandle(r.name, r.args, r.result));
    const d: AppDivergence = {
      seq: r.seq, t: r.t, socket: lane && r.name !== 'onConnection' && r.name !== 'apiSocket' ? lane.label : null,
      recorded: describeInput(r), actual, stack, reason, skipped: this.#missing === r && reason !== 'missing call',
    };
    if (bytes) d.bytes = bytes;
    this.#divergence = d;
    this.#end(false);
    if (this.#opts.onDivergence) this.#opts.onDivergence(d);
    else process.stderr.write(formatAppDivergence(d) + '\n');
  }

  #finish(): void {
    if (this.#missing !== null) this.#diverge(this.#missing, 'missing call', 'no such call', null);
    else if (!this.#stopped) this.#end(true);
  }

  #end(ok: boolean): void {
    this.#stopped = true;
    releaseTimers(this.#timerClock);
    if (this.#waitTimer) realClearTimeout(this.#waitTimer);
    this.#waitTimer = null;
    this.#settle({ ok, inputs: this.#next, total: this.#records.length, divergence: this.#divergence });
  }
}
