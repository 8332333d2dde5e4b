// The program's timers, recorded and replayed (docs/replay.md, "The program's timers").
//
// A replay plays the transport's events as fast as the program takes them, not at the recorded
// gaps; a timer of the program's own (setTimeout, setInterval) runs on the wall clock. So a timer
// that came after some network events in the recording could come before them in a replay, or
// the other way round: xmlhttprequest's setTimeout(0) that dispatches a finished response (which
// then polls again) ran before the next recorded event on another socket; two deadline timers of
// gRPC's client and server, a millisecond apart, met the replayed events in another order.
//
// So while a recording has the program's clock, the global setTimeout and setInterval (and
// node:timers') number the timers the program makes, and the recorder notes where each run came
// (recordTimers: a `timer` record, after how many inputs). While a replay runs, the program's
// timers are its own (replayTimers): each runs where it ran in the recording, and nowhere else
// (fireRecorded) — early if the replay got there before the wall clock, later if the loop
// stalled. For a recording without those notes, a timer is due on the recording's clock (the
// recorded time of the input being replayed when it was made, plus the time since up to the next
// recorded input, plus its delay) and runs before the first recorded input after that time
// (fireDue), not before a transport event from before it. Everything else about a timer stays
// Node's: the object returned is Node's Timeout (ref, unref, hasRef, refresh, its number), and
// clearTimeout takes it or its number. Once the replay is over (used up, or diverged), timers go
// by the wall clock again. Node's own modules, timers/promises and setImmediate keep theirs, and
// so do wasinet's own timers (realSetTimeout: the recorder's flushes, the stacks' wake-ups), which
// are no timers of the program's.
import timersModule from 'node:timers';
import Module from 'node:module';

/** The runtime's timer functions, for wasinet's own timers (never the program's). */
export const realSetTimeout = globalThis.setTimeout;
export const realClearTimeout = globalThis.clearTimeout;
const realSetInterval = globalThis.setInterval;
const realClearInterval = globalThis.clearInterval;

/** Node's: a delay that is not a number from 1 to TIMEOUT_MAX is 1. */
const TIMEOUT_MAX = 2 ** 31 - 1;

/** What a replay tells the program's timers. */
export interface TimerClock {
  /** The recording's clock now (ms, the inputs' `now`). */
  now(): number;
  /** Whether a timer due at `due` may run now (no recorded event of the transport before it is still to be played). */
  mayRun(due: number): boolean;
  /** A timer is waiting for the replay (the replayer fires it with `fireDue`). */
  waiting(): void;
  /**
   * Where the recording's timers ran, by the order they were made (a recording with `timers`
   * in its header): then each runs where it ran, and nowhere else. Absent: by their due times.
   */
  runs?: ReadonlyMap<number, readonly TimerRun[]>;
}

/** A run of a recorded timer: after `s` inputs, `t` 1 in the same turn as what ran before it, `k` its place in the trace. */
export interface TimerRun { s: number; t: number; k: number }

type Timeout = ReturnType<typeof setTimeout>;

class ProgramTimer {
  /** The recording's clock when it is due. */
  due: number;
  /** Fired (a setTimeout), or cleared. */
  done = false;
  /** Its wall-clock time came while the replay was not yet there. */
  held = false;
  real: Timeout | null = null;
  /** The Timeout's own refresh (its property is ours: see make). */
  restart: (() => unknown) | null = null;
  /** Where it ran in the recording, still to come (a recording with its timers); null: by `due`. */
  runs: TimerRun[] | null = null;
  constructor(
    readonly fn: (...args: unknown[]) => void,
    readonly args: unknown[],
    readonly after: number,
    readonly repeat: boolean,
    readonly seq: number,
    now: number,
  ) {
    this.due = now + after;
  }
}

let clock: TimerClock | null = null;
let seq = 0;
const pending = new Set<ProgramTimer>();
const byTimeout = new WeakMap<object, ProgramTimer>();

function delayOf(after: unknown): number {
  const n = Number(after);
  return n >= 1 && n <= TIMEOUT_MAX ? n : 1;
}

/** Runs a timer's callback once, as its wall-clock timer would have. */
function run(t: ProgramTimer): void {
  if (t.done) return;
  t.held = false;
  t.runs?.shift();
  if (t.repeat) t.due += t.after;
  else {
    t.done = true;
    pending.delete(t);
  }
  t.fn.apply(t.real, t.args);
}

/** The wall-clock timer fired: run it, or let the replay fire it when the recording gets there. */
function onWallClock(t: ProgramTimer): void {
  if (t.done || t.held) return;
  const c = clock;
  // A recording's timer runs where it ran there (fireRecorded), not by the wall clock.
  if (c === null || (t.runs === null && c.mayRun(t.due))) {
    run(t);
    return;
  }
  t.held = true;
  c.waiting();
}

function make(repeat: boolean, fn: unknown, after: unknown, args: unknown[]): Timeout {
  const start = repeat ? realSetInterval : realSetTimeout;
  // Node's own checks (the callback a function) and warnings (an overflowing delay) first.
  if (typeof fn !== 'function' || clock === null) return (start as (...a: unknown[]) => Timeout)(fn, after, ...args);
  const t = new ProgramTimer(fn as (...a: unknown[]) => void, args, delayOf(after), repeat, ++seq, clock.now());
  if (clock.runs !== undefined) t.runs = [...(clock.runs.get(t.seq) ?? [])];
  const real = (start as (...a: unknown[]) => Timeout)(() => onWallClock(t), after);
  t.real = real;
  pending.add(t);
  byTimeout.set(real, t);
  // refresh() starts it again from now, on the recording's clock too.
  const refresh = real.refresh;
  t.restart = () => refresh.call(real);
  Object.defineProperty(real, 'refresh', {
    configurable: true, writable: true, enumerable: false,
    value: function (this: Timeout) {
      if (!t.done) {
        t.due = (clock?.now() ?? t.due - t.after) + t.after;
        t.held = false;
      }
      return refresh.call(this);
    },
  });
  return real;
}

function find(x: unknown): ProgramTimer | undefined {
  if (x !== null && typeof x === 'object') return byTimeout.get(x);
  if (typeof x === 'number' || typeof x === 'string') {
    for (const t of pending) if (t.real !== null && String(+(t.real as unknown as number)) === String(x)) return t;
  }
  return undefined;
}

function cancel(x: unknown, real: (x: never) => void): void {
  const t = find(x);
  if (t !== undefined) {
    t.done = true;
    t.held = false;
    pending.delete(t);
  }
  real(x as never);
}

const programSetTimeout = function setTimeout(fn: unknown, after?: unknown, ...args: unknown[]): Timeout {
  return make(false, fn, after, args);
};
const programSetInterval = function setInterval(fn: unknown, after?: unknown, ...args: unknown[]): Timeout {
  return make(true, fn, after, args);
};
const programClearTimeout = function clearTimeout(x?: unknown): void { cancel(x, realClearTimeout); };
const programClearInterval = function clearInterval(x?: unknown): void { cancel(x, realClearInterval); };
/** What wasinet's own wake-ups use instead of a stand-in setTimeout (backend/runtime-common.ts startTimer). */
const PROGRAM_TIMER = Symbol.for('wasinet.programTimer');

/**
 * A stand-in for the runtime's setTimeout or setInterval: its statics (util.promisify's custom
 * one keeps working: Node's own promisified timers, not on this clock), and for setTimeout the
 * runtime's own under PROGRAM_TIMER.
 */
function standIn<T extends Function>(mine: T, real: Function): T {
  for (const key of Reflect.ownKeys(real)) {
    if (key !== 'length' && key !== 'name' && key !== 'prototype') Object.defineProperty(mine, key, Object.getOwnPropertyDescriptor(real, key)!);
  }
  if (real === realSetTimeout) Object.defineProperty(mine, PROGRAM_TIMER, { value: realSetTimeout });
  return mine;
}
standIn(programSetTimeout, realSetTimeout);
standIn(programSetInterval, realSetInterval);

const SLOTS = ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'] as const;
const ours = { setTimeout: programSetTimeout, setInterval: programSetInterval, clearTimeout: programClearTimeout, clearInterval: programClearInterval };
const theirs = { setTimeout: realSetTimeout, setInterval: realSetInterval, clearTimeout: realClearTimeout, clearInterval: realClearInterval };

function put(fns: Record<(typeof SLOTS)[number], unknown>): void {
  const g = globalThis as unknown as Record<string, unknown>;
  const m = timersModule as unknown as Record<string, unknown>;
  for (const k of SLOTS) {
    g[k] = fns[k];
    m[k] = fns[k];
  }
  (Module as unknown as { syncBuiltinESMExports?(): void }).syncBuiltinESMExports?.();
}

/** The program's timers go by `c` from now on (one replay at a time: a later one takes over). */
export function replayTimers(c: TimerClock): void {
  if (recording !== null) return; // (a recording in this process has them)
  clock = c;
  seq = 0;
  put(ours);
}

// ---------------------------------------------------------------- recording

let recording: ((i: number) => void) | null = null;

/** Whether a recording may take the program's timers (no recording or replay has them). */
export function timersFree(): boolean {
  return clock === null && recording === null;
}

function recorded(repeat: boolean, fn: unknown, after: unknown, args: unknown[]): Timeout {
  const start = (repeat ? realSetInterval : realSetTimeout) as (...a: unknown[]) => Timeout;
  if (typeof fn !== 'function' || recording === null) return start(fn, after, ...args);
  const i = ++seq;
  const f = fn as (...a: unknown[]) => unknown;
  return start(function (this: unknown, ...a: unknown[]) {
    recording?.(i);
    return f.apply(this, a);
  }, after, ...args);
}

const recordingFns = {
  setTimeout: function setTimeout(fn: unknown, after?: unknown, ...args: unknown[]): Timeout { return recorded(false, fn, after, args); },
  setInterval: function setInterval(fn: unknown, after?: unknown, ...args: unknown[]): Timeout { return recorded(true, fn, after, args); },
  clearTimeout: realClearTimeout,
  clearInterval: realClearInterval,
};
standIn(recordingFns.setTimeout, realSetTimeout);
standIn(recordingFns.setInterval, realSetInterval);

/**
 * While recording: each timer the program makes is numbered in the order made, and `ran(i)` is
 * told each time one runs (the recorder notes where: a replay runs it there).
 */
export function recordTimers(ran: (i: number) => void): { stop(): void } {
  recording = ran;
  seq = 0;
  put(recordingFns);
  return {
    stop() {
      if (recording !== ran) return;
      recording = null;
      put(theirs);
    },
  };
}

// ---------------------------------------------------------------- replaying where they ran

/** The place (inputs before it) of the next recorded run of a timer still to run (Infinity: none). */
export function nextRecorded(): number {
  let best = Infinity;
  for (const t of pending) if (!t.done && t.runs !== null && t.runs.length > 0 && t.runs[0].s < best) best = t.runs[0].s;
  return best;
}

/**
 * Runs the timers recorded as run at or before `at` (inputs taken), in the recording's order: the
 * first, and those after it recorded in the same turn (no microtask between, as there). Returns
 * how many ran.
 */
export function fireRecorded(at: number): number {
  const due = [...pending].filter((t) => !t.done && t.runs !== null && t.runs.length > 0 && t.runs[0].s <= at)
    .sort((a, b) => a.runs![0].k - b.runs![0].k);
  let ran = 0;
  for (const t of due) {
    if (ran > 0 && t.runs![0].t !== 1) break;
    if (t.done) continue;
    if (!t.repeat) realClearTimeout(t.real!);
    run(t);
    ran++;
  }
  return ran;
}

/** The replay is over: timers go by the wall clock again (those waiting run at once, in order). */
export function releaseTimers(c: TimerClock): void {
  if (clock !== c) return;
  clock = null;
  put(theirs);
  const held = [...pending].filter((t) => t.held).sort(byDue);
  for (const t of held) realSetTimeout(() => run(t), 0);
}

const byDue = (a: ProgramTimer, b: ProgramTimer): number => a.due - b.due || a.seq - b.seq;

/** When the earliest timer not yet run is due on the recording's clock (Infinity: none). */
export function nextDue(): number {
  let best: ProgramTimer | null = null;
  for (const t of pending) if (!t.done && (best === null || byDue(t, best) < 0)) best = t;
  return best === null ? Infinity : best.due;
}

/** Node's timers phase runs every timer expired by the loop's time, which counts whole milliseconds. */
const PHASE_MS = 1;

/**
 * Runs the timers due at or before `until` (the recording's clock) that Node would run in one
 * timers phase — the earliest, and those due within a millisecond of it — early if their wall
 * clock has not come yet: the replay is there. As in Node's phase, timers of different delays run
 * one after the other with no microtask between them (Node runs its queue's lists so), and a timer
 * of the same delay as the one before waits for the next call (Node runs the process's ticks and
 * microtasks between the timers of one list). Returns how many ran.
 */
export function fireDue(until: number): number {
  const due = [...pending].filter((t) => !t.done && t.due <= until).sort(byDue);
  if (due.length === 0) return 0;
  const first = due[0].due;
  let ran = 0;
  let after = -1;
  for (const t of due) {
    if (t.due > first + PHASE_MS || t.after === after || t.done) break;
    after = t.after;
    // Its wall-clock timer must not run it again: a setTimeout's is stopped, an interval's starts over.
    if (!t.repeat) realClearTimeout(t.real!);
    else t.restart!();
    run(t);
    ran++;
  }
  return ran;
}

/** How many timers came on the wall clock before the replay got to their time. */
export function heldTimers(): number {
  let n = 0;
  for (const t of pending) if (t.held && !t.done) n++;
  return n;
}

/** Runs the earliest of those timers now. */
export function fireHeld(): void {
  const held = [...pending].filter((t) => t.held && !t.done).sort(byDue);
  if (held.length > 0) run(held[0]);
}
