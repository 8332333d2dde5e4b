// The wall clock an application replay shows the program (docs/replay.md, "The clock").
//
// A program's writes carry the date now and then: a mail's Date header (nodemailer), a
// timestamp in seconds in a message. Replayed later, `new Date()` would give today's. A recording
// notes in its header the wall clock and the stack's clock at one moment (`clock`); the replay
// then gives the program's `Date.now()`, `new Date()` and `Date()` the recorded wall time of the
// input being replayed — that moment plus how far the stack's recorded clock has gone since —
// plus the real time that passed since that input was taken (so a loop that waits on Date.now()
// still ends). Values in seconds come out as recorded; milliseconds differ by what the program's
// own work took, as they would in any two runs. Node's own modules keep the real clock (they hold
// their own Date), as do performance.now() and process.hrtime().
export interface ClockHeader {
  /** Date.now() at the moment noted. */
  wall: number;
  /** The stack's clock (the `now` of its inputs) at that moment. */
  now: number;
}

const RealDate = Date;

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

/**
 * Makes the global Date tell the time `now()` gives (ms since the epoch) until `stop()`; a replay
 * that starts later takes it over.
 */
export function replayClock(now: () => number): { stop(): void } {
  current?.stop();
  const VirtualDate = function Date(this: unknown, ...args: unknown[]): unknown {
    if (new.target === undefined) return new RealDate(now()).toString(); // Date() called as a function
    return Reflect.construct(RealDate, args.length === 0 ? [now()] : args, new.target);
  } as unknown as DateConstructor;
  Object.setPrototypeOf(VirtualDate, RealDate); // Date.UTC, Date.parse
  Object.defineProperty(VirtualDate, 'prototype', { value: RealDate.prototype, writable: false }); // instanceof, either way
  Object.defineProperty(VirtualDate, 'length', { value: 7 });
  Object.defineProperty(VirtualDate, 'now', {
    value: function now2() { return Math.floor(now()); }, writable: true, configurable: true,
  });
  Object.defineProperty(VirtualDate.now, 'name', { value: 'now' });
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
