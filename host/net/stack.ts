// A stack: one core instance, one backend, and the Socket and Server objects living on them.
//
// The stack owns the core (never the module: every stack has its own), routes the core's
// output records (commands to the backend, RESOLVE to the socket that asked, notifications to
// the object that owns the handle), runs the stack's own timers on the core's clock, and
// recovers from a trap in the core: every object of the stack is destroyed with an error naming
// the core's message, and a fresh core serves the stack's next use.
import { Core, CoreTrap, isNotification, type CoreOwner, type InputTap, type Output, type Tap } from '../core/core.js';
import { Op } from '../core/abi.js';
import type { Backend } from '../backend/backend.js';
import { createRuntimeBackend } from '../backend/load.js';
import { HandleTable } from '../core/handle-table.js';

export const kNotify = Symbol('wasinet.notify');
export const kResolve = Symbol('wasinet.resolve');
export const kTrapped = Symbol('wasinet.trapped');
export const kSetOption = Symbol('wasinet.setOption');

/** What owns a handle of the core: a Socket or a Server. */
export interface Endpoint {
  [kNotify](o: Output): void;
  [kResolve]?(o: Output): void;
  [kTrapped](err: CoreTrap): void;
  /** Carries out SET_OPTION (a Socket does it through its `_handle`, as net.js does). */
  [kSetOption]?(o: Output): void;
}

export interface StackOptions {
  /** Another build of the core (tests use build/testing.wasm). */
  module?: WebAssembly.Module;
  /** Sees every input of the stack's cores with its outputs (the format-1 trace recorder). */
  tap?: Tap;
  /** The sandbox: the policy table and the limits (host/net/policy.ts) each new core is given. */
  policy?: Uint8Array;
  limits?: readonly number[];
  /** Sees every input of the stack's cores as it happens (the trace recorder, the application replayer). */
  inputTap?: InputTap;
}

export class Stack implements CoreOwner {
  readonly backend: Backend;
  readonly #module: WebAssembly.Module | undefined;
  readonly #tap: Tap | undefined;
  readonly #policy: Uint8Array | undefined;
  readonly limits: readonly number[] | undefined;
  readonly #inputTap: InputTap | undefined;
  #core: Core | null = null;
  #cores = 0;
  #endpoints = new HandleTable<Endpoint>();
  #timers = new Map<number, () => void>();
  #nextTimer = 1;

  constructor(backend: Backend, options: StackOptions = {}) {
    this.backend = backend;
    this.#module = options.module;
    this.#tap = options.tap;
    this.#policy = options.policy;
    this.limits = options.limits;
    this.#inputTap = options.inputTap;
  }

  /** The core, instantiated on first use (and again after a trap). */
  get core(): Core {
    if (this.#core === null) {
      this.#core = new Core(this, this.#module);
      if (this.#tap) {
        if (this.#cores > 0) this.#tap.reset?.();
        this.#core.tap = this.#tap;
      }
      if (this.#inputTap) {
        if (this.#cores > 0) this.#inputTap.reset?.();
        this.#core.inputTap = this.#inputTap;
        if (this.#inputTap.outputs !== undefined) this.#core.outputDigest = this.#inputTap.outputs;
      }
      this.#cores++;
      const core = this.#core;
      this.backend.attach(core);
      // Inputs like any other, so a trace records them and a replay re-makes every decision.
      if (this.#policy) core.apiPolicy(this.#policy);
      if (this.limits) core.apiLimits(this.limits);
      const batching = this.backend.batching;
      if (batching) core.apiBatching(batching[0], batching[1]);
      return core; // (a core that trapped on its limits is dead: every use fails with the trap)
    }
    return this.#core;
  }

  now(): number {
    return this.backend.now();
  }

  /** The core whose FLUSH_LATER is waiting for the end of the turn (one at a time: the core asks once per apiFlush). */
  #flushing: Core | null = null;
  /** The microtask that ends the turn for the core (one function per stack, not a closure per turn). */
  readonly #endOfTurn = (): void => {
    const core = this.#flushing;
    this.#flushing = null;
    this.#leaveUnflushed();
    if (core === null || this.#core !== core) return;
    try {
      core.apiFlush();
    } catch (err) {
      // An uncaught exception, as from any other microtask, not a rejected promise.
      queueMicrotask(() => { throw err; });
    }
  };

  /** Where this stack is in `unflushed`, or -1 (an index, not a Set: a Set's add and delete in every turn that wrote cost 0.2–0.5 µs). */
  #unflushedAt = -1;

  #leaveUnflushed(): void {
    const i = this.#unflushedAt;
    if (i < 0) return;
    this.#unflushedAt = -1;
    const last = unflushed.pop()!;
    if (last !== this) {
      unflushed[i] = last;
      last.#unflushedAt = i;
    }
  }

  /** Sends this turn's batched writes now, not at the turn's end (the process is exiting). */
  flushNow(): void {
    this.#leaveUnflushed();
    this.core.apiFlush();
  }

  register(h: number, e: Endpoint): void {
    this.#endpoints.set(h, e);
  }

  unregister(h: number, e: Endpoint): void {
    if (this.#endpoints.get(h) === e) this.#endpoints.delete(h);
  }

  dispatch(o: Output): void {
    if (!isNotification(o.op)) {
      if (o.op === Op.CMD_RESOLVE) this.#endpoints.get(o.h)?.[kResolve]?.(o);
      else if (o.op === Op.CMD_SET_OPTION) {
        const e = this.#endpoints.get(o.h);
        if (e?.[kSetOption]) e[kSetOption](o);
        else this.backend.exec(o);
      } else this.backend.exec(o);
      return;
    }
    if (o.op === Op.EV_FLUSH_LATER) {
      // Writes of this turn wait in the core for its end: the microtasks after the current
      // synchronous code (a batch of small writes leaves as one WRITE).
      const core = this.core;
      if (this.#unflushedAt < 0) {
        this.#unflushedAt = unflushed.length;
        unflushed.push(this);
      }
      if (!exitHook) {
        exitHook = true;
        globalThis.process?.on?.('exit', flushAtExit);
      }
      this.#flushing = core;
      settled.then(this.#endOfTurn);
      return;
    }
    if (o.op === Op.EV_USER_TIMER) {
      const fn = this.#timers.get(o.a);
      if (this.#timers.delete(o.a)) this.backend.userTimers?.(this.#timers.size);
      fn?.();
      return;
    }
    this.#endpoints.get(o.h)?.[kNotify](o);
  }


  trapped(err: CoreTrap): void {
    this.backend.abandon();
    this.#core = null;
    const endpoints = this.#endpoints.values();
    this.#endpoints.clear();
    this.#timers.clear();
    for (const e of endpoints) e[kTrapped](err);
  }

  /** Runs `fn` after `delay` ms of the stack's clock (virtual on the sim backend). */
  setTimeout(fn: () => void, delay = 0): number {
    const id = this.#nextTimer++;
    this.#timers.set(id, fn);
    this.backend.userTimers?.(this.#timers.size);
    this.core.apiTimerSet(id, delay);
    return id;
  }

  clearTimeout(id: number): void {
    if (!this.#timers.delete(id)) return;
    this.backend.userTimers?.(this.#timers.size);
    this.core.apiTimerClear(id);
  }
}

let defaultStack: Stack | null = null;

/** Makes `stack` the default (wasinet/register's recording or replaying stack), before any use of it. */
export function setDefaultStack(stack: Stack): void {
  if (defaultStack !== null && defaultStack !== stack) throw new Error('wasinet: the default stack is already in use');
  defaultStack = stack;
}

/** The stack behind the module's own exports: real sockets, on the runtime's own socket API. */
export function getDefaultStack(): Stack {
  defaultStack ??= new Stack(createRuntimeBackend());
  return defaultStack;
}

// A program that writes and then calls process.exit() at once expects its bytes to leave, as
// they do with node:net (a write the kernel takes completes inside write()). The microtask that
// flushes a turn's batched writes never runs then, so the batches go out on 'exit'.
const unflushed: Stack[] = [];
/**
 * `.then` on a settled promise queues a microtask without the AsyncResource and the bound
 * function that Node's own microtask API makes each time (about 100 ns of every turn that wrote).
 */
const settled = Promise.resolve();
let exitHook = false;
/** Also called by wasinet/register before it closes its recording at exit (these inputs belong in it). */
export function flushAtExit(): void {
  for (const stack of [...unflushed]) stack.flushNow();
}
