// createStack(): a `net`-shaped object with its own core instance and backend.
import { Stack } from './stack.js';
import { makeNet, type PublicNet } from './api.js';
import type { Backend } from '../backend/backend.js';
import { createNodeBackend } from '../backend/load.js';
import { coreWasm, coreBytes } from '../core/wasm.js';
import { TraceRecorder } from '../core/trace.js';
import { SimBackend, SimNetwork, type SimOptions } from '../backend/sim.js';

export interface CreateStackOptions extends SimOptions {
  /** 'node' (real sockets, the default), 'sim' (a simulated network), or a Backend object. */
  backend?: 'node' | 'sim' | Backend;
  /** For 'sim': the network to join (stacks on one network reach each other). Default: a new one. */
  network?: SimNetwork;
  /** File name of another core build in build/ (tests use 'testing.wasm'). */
  coreBuild?: string;
  /** Record every boundary crossing of this stack into this trace file (docs/replay.md). */
  record?: string;
  /** What the stack may reach (issue 10: connect, listen, ipc rules; fd). Absent: everything. */
  policy?: { connect?: string[]; listen?: string[]; ipc?: string[]; fd?: boolean };
  /** Bounds of the stack (issue 10: sockets, listeners, socketBuffer, stackBuffer, sent, received, coreMemory). */
  limits?: Record<string, number>;
}

export type StackApi = PublicNet & StackExtras;

export interface StackExtras {
  /** Runs `fn` after `delay` ms on the stack's clock (virtual on the sim backend). */
  setTimeout(fn: () => void, delay?: number): number;
  clearTimeout(id: number): void;
  /** The stack's clock, in ms. */
  now(): number;
  /** Resolves once the stack's network has nothing left to do (sim: every pending event ran). */
  run(): Promise<void>;
  /** The simulated network (sim stacks only). */
  readonly network: SimNetwork | null;
  /** The trace being written (stacks created with `record`), to close it when done. */
  readonly recorder: TraceRecorder | null;
}

export function createStack(options: CreateStackOptions = {}): StackApi {
  let backend: Backend;
  let network: SimNetwork | null = null;
  if (options.backend === 'sim') {
    network = options.network ?? new SimNetwork(options);
    backend = new SimBackend(network);
  } else if (options.backend === undefined || options.backend === 'node') {
    backend = createNodeBackend();
  } else {
    backend = options.backend;
  }
  const build = options.coreBuild ?? 'release.wasm';
  const recorder = options.record ? new TraceRecorder(options.record, coreBytes(build)) : null;
  const stack = new Stack(backend, {
    module: options.coreBuild ? coreWasm(options.coreBuild) : undefined,
    tap: recorder ?? undefined,
  });
  const api: StackApi = {
    ...(makeNet(stack) as unknown as PublicNet),
    network,
    recorder,
    setTimeout: (fn, delay) => stack.setTimeout(fn, delay),
    clearTimeout: (id) => stack.clearTimeout(id),
    now: () => stack.now(),
    run: () => (network ? network.run() : Promise.resolve()),
  };
  stacks.set(api, stack);
  return api;
}

const stacks = new WeakMap<object, Stack>();

/** The stack behind a createStack() result: its core, backend and clock (not public API: tests and tools). */
export function stackOf(api: object): Stack {
  const stack = stacks.get(api);
  if (!stack) throw new TypeError('not a wasinet stack');
  return stack;
}
