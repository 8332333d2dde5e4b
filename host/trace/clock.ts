// The wall clock an application replay shows the program (docs/replay.md, "The clock").
//
// A program's writes carry the time now and then: a mail's Date header (nodemailer), a
// timestamp in a message, a cache-busting `t=` in a URL (engine.io's polling), and its logic
// measures time with Date.now(). Replayed later, `new Date()` would give today's. So while a
// recording has the clock, the global Date is one of ours: each reading the program makes
// (Date.now(), new Date(), Date()) is the real time, and it is kept in the trace (a `clock`
// record: after how many inputs, the how-manyth since, the value). The replay gives each reading
// made at the same place the recorded value; one the recording does not have (a timer of the
// program's that ran another number of times) gets the recorded wall time of the input being
// replayed — from a note in the header of the wall clock against the stack's (`clock`) — plus the
// real time since that input was taken (so a loop that waits on Date.now() still ends). Node's
// own modules keep the real clock (they hold their own Date), as do performance.now() and
// process.hrtime().
export interface ClockHeader {
  /** Date.now() at the moment noted. */
  wall: number;
  /** The stack's clock (the `now` of its inputs) at that moment. */
  now: number;
}

/** The runtime's Date, for wasinet's own times (a recording's start): never a reading of the program's. */
export const RealDate = Date;

/** The header's clock, if the recording noted it. */
export function clockHeaderOf(header: { clock?: unknown }): ClockHeader | null {
  const c = header.clock as Partial<ClockHeader> | undefined;
  return c && typeof c.wall === 'number' && typeof c.now === 'number' ? { wall: c.wall, now: c.now } : null;
}

/** A note of the wall clock against the stack's (`now`), for a recording's header. */
export function noteClock(now: number): ClockHeader {
  return { wall: RealDate.now(), now };
}

let current: { stop(): void } | null = null;

/** Whether a recording may take the process's clock now (no other recording or replay has it). */
export function clockFree(): boolean {
  return current === null;
}

/**
 * Makes the global Date tell the time `read()` gives (ms since the epoch) until `stop()`. `take`:
 * a recording's or replay that starts later takes it over from the one before (else this throws).
 */
function install(read: () => number, take: boolean): { stop(): void } {
  if (current !== null) {
    if (!take) throw new Error('wasinet: the clock of this process is already recorded (one recording at a time)');
    current.stop();
  }
  const VirtualDate = function Date(this: unknown, ...args: unknown[]): unknown {
    if (new.target === undefined) return new RealDate(read()).toString(); // Date() called as a function
    return Reflect.construct(RealDate, args.length === 0 ? [read()] : args, new.target);
  } as unknown as DateConstructor;
  Object.setPrototypeOf(VirtualDate, RealDate); // Date.UTC, Date.parse
  Object.defineProperty(VirtualDate, 'prototype', { value: RealDate.prototype, writable: false }); // instanceof, either way
  Object.defineProperty(VirtualDate, 'length', { value: 7 });
  Object.defineProperty(VirtualDate, 'now', {
    value: function now(): number { return read(); }, writable: true, configurable: true,
  });
  const ctor = Object.getOwnPropertyDescriptor(RealDate.prototype, 'constructor')!;
  globalThis.Date = VirtualDate;
  Object.defineProperty(RealDate.prototype, 'constructor', { ...ctor, value: VirtualDate });
  let on = true;
  const clock = {
    stop(): void {
      if (!on) return;
      on = false;
      if (globalThis.Date === VirtualDate) {
        globalThis.Date = RealDate;
        Object.defineProperty(RealDate.prototype, 'constructor', ctor);
      }
      if (current === clock) current = null;
    },
  };
  current = clock;
  return clock;
}

/** One reading of the clock by the program while recording: the k-th since input `s` was recorded, and its value. */
export interface ClockRead { s: number; k: number; v: number }

/**
 * Where each reading is made: after how many inputs (`inputs()`), and the how-manyth reading
 * since. A recording keeps it with the value; a replay looks the value up by it.
 */
function places(inputs: () => number): () => ClockRead {
  let s = -1;
  let k = 0;
  return () => {
    const at = inputs();
    if (at !== s) { s = at; k = 0; }
    return { s, k: k++, v: 0 };
  };
}

/**
 * Records the program's readings of the wall clock (Date.now(), new Date(), Date()): each is the
 * real time, and `keep` gets it with where it was made. `inputs()`: how many inputs the
 * recording holds now.
 */
export function recordClock(inputs: () => number, keep: (r: ClockRead) => void): { stop(): void } {
  const place = places(inputs);
  return install(() => {
    const r = place();
    r.v = RealDate.now();
    keep(r);
    return r.v;
  }, false);
}

/** How far (in inputs) from where the program reads the clock a recorded reading may be, to stand in for it. */
export const CLOCK_DRIFT = 64;

/**
 * Replays the program's clock: a reading recorded at the same place gives the recorded value.
 * A reading made at another place — the same reading, made a few inputs earlier or later than
 * in the recording (a timer of the program's that fired before or after the transport's events
 * the replay gave it: engine.io's polling request, whose URL carries Date.now()) — gives the
 * next recorded reading not yet given, if that one was made within CLOCK_DRIFT inputs of here:
 * the readings of a program are made in the same order even when they fall between other
 * inputs; such a stand-in is never earlier than a reading given before it. Any other reading (a
 * timer of the program's that ran another number of times) gives `derived()`.
 */
export function replayClock(derived: () => number, reads: readonly ClockRead[] = [], inputs?: () => number): { stop(): void } {
  if (reads.length === 0 || inputs === undefined) return install(() => Math.floor(derived()), true);
  const place = places(inputs);
  // Each recorded place's index among the readings (which are in the trace's order).
  const index = new Map<string, number>();
  reads.forEach((r, i) => index.set(`${r.s}:${r.k}`, i));
  let next = 0; // the first recorded reading after the last one given
  return install(() => {
    const r = place();
    const at = index.get(`${r.s}:${r.k}`);
    if (at !== undefined) {
      next = Math.max(next, at + 1);
      return reads[at].v;
    }
    const near = reads[next];
    if (near !== undefined && Math.abs(near.s - r.s) <= CLOCK_DRIFT) {
      next++;
      return near.v;
    }
    return Math.floor(derived());
  }, true);
}
