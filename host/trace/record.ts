// Starting a recording for a stack: format 2 (the default) or format 1, and the one fact of the
// transport that no core input carries — a failed name resolution — noted in the trace.
import type { InputTap, Tap } from '../core/core.js';
import type { Backend, LookupCallback } from '../backend/backend.js';
import { TraceRecorder } from '../core/trace.js';
import { TraceRecorder2, type RecordOptions, type SandboxHeader } from './recorder.js';
import { randomHeaderFor, recordRandom } from './random.js';
import { clockFree, noteClock, recordClock } from './clock.js';
import { recordTimers, timersFree } from './timers.js';

export type { RecordOptions } from './recorder.js';

/** A recording in progress: `close()` resolves once every byte is on disk. */
export interface Recording {
  readonly path: string;
  /** Inputs recorded so far. */
  readonly inputs: number;
  /** Recording stopped early: the disk fell more than `maxPending` bytes behind. */
  readonly truncated: boolean;
  /** Writing the trace failed (recording stopped then; `close()` rejects with it). */
  readonly error?: Error | null;
  close(): Promise<void>;
}

/** `sandbox`: the stack's policy and limits as given, for the trace header (format 2). */
export function startRecording(option: string | RecordOptions, coreBytes: Uint8Array, backend: Backend,
  sandbox: SandboxHeader = {}): { recorder: Recording; tap?: Tap; inputTap?: InputTap } {
  const opts: RecordOptions = typeof option === 'string' ? { path: option } : option;
  if (typeof opts.path !== 'string' || opts.path === '') throw new TypeError('record: a trace file name is needed');
  if (opts.version === 1) {
    const v1 = new TraceRecorder(opts.path, coreBytes);
    const recorder: Recording = {
      path: opts.path,
      get inputs() { return v1.lines - 1; },
      truncated: false,
      close: async () => v1.close(),
    };
    return { recorder, tap: v1 };
  }
  // The application's randomness, made reproducible for a replay (random.ts), unless asked not
  // to or another recording has it: its seed goes in the header, the capture starts with the recorder.
  const want = opts.random ?? true;
  if (want !== true && want !== false && want !== 'math') throw new TypeError(`record.random must be true, false or 'math', not ${String(want)}`);
  const random = want === false ? null : randomHeaderFor(want === true);
  // The wall clock against the stack's, for the clock an application replay shows (clock.ts).
  const clock = noteClock(backend.now());
  // Where the program's timers run (timers.ts), with its clock (its readings and its timers go
  // together), unless another recording has them: the header says the trace has them.
  const timers = opts.clock !== false && timersFree();
  const rec = new TraceRecorder2(opts, coreBytes, undefined, { ...sandbox, ...(random !== null ? { random } : {}), clock, ...(timers ? { timers: true } : {}) });
  if (random !== null) rec.random = recordRandom(random, (d) => rec.randomDraw(d));
  // The program's readings of the wall clock (clock.ts), unless asked not to or another has it.
  if (opts.clock !== undefined && typeof opts.clock !== 'boolean') throw new TypeError(`record.clock must be true or false, not ${String(opts.clock)}`);
  if (opts.clock !== false && clockFree()) rec.clock = recordClock(() => rec.inputs, (x) => rec.clockRead(x));
  if (timers) rec.timers = recordTimers((i) => rec.timerRan(i));
  const lookup = backend.lookup.bind(backend);
  backend.lookup = (host: unknown, options, callback: LookupCallback) => {
    lookup(host, options, (err, address, family) => {
      if (err) rec.lookupError(err as NodeJS.ErrnoException & { hostname?: string });
      callback(err, address, family);
    });
  };
  // A TLS session's state (host/net/tls.ts): each answer goes into the trace as it is given.
  const tlsState = backend.tlsState?.bind(backend);
  if (tlsState !== undefined) {
    backend.tlsState = (h: number, news?: boolean) => {
      const state = tlsState(h, news);
      rec.tlsState(h, state);
      return state;
    };
  }
  return { recorder: rec, inputTap: rec };
}
