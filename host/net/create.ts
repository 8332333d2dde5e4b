// createStack(): a `net`-shaped object with its own core instance and backend.
import { Stack } from './stack.js';
import { makeNet, type PublicNet } from './api.js';
import type { Backend } from '../backend/backend.js';
import { createNodeBackend } from '../backend/load.js';
import { coreWasm, coreBytes } from '../core/wasm.js';
import { startRecording, type RecordOptions, type Recording } from '../trace/record.js';
import { AppReplayer, ReplayBackend, type ReplayOptions, type Replaying } from '../trace/app-replay.js';
import { SimBackend, SimNetwork, type SimOptions } from '../backend/sim.js';

export interface CreateStackOptions extends SimOptions {
  /** 'node' (real sockets, the default), 'sim' (a simulated network), or a Backend object. */
  backend?: 'node' | 'sim' | Backend;
  /** For 'sim': the network to join (stacks on one network reach each other). Default: a new one. */
  network?: SimNetwork;
  /** File name of another core build in build/ (tests use 'testing.wasm'). */
  coreBuild?: string;
  /** Record every input of this stack's core into this trace file, or with these options (docs/replay.md). */
  record?: string | RecordOptions;
  /**
   * Run the application offline against this recording (trace format 2): the transport's side
   * comes from the trace, the application's calls are checked against it (docs/replay.md).
   */
  replay?: string | ReplayOptions;
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
  /** The trace being written (stacks created with `record`); `await recorder.close()` when done. */
  readonly recorder: Recording | null;
  /** The replay running on this stack (stacks created with `replay`): `await replay.done`. */
  readonly replay: Replaying | null;
}

export function createStack(options: CreateStackOptions = {}): StackApi {
  let backend: Backend;
  let network: SimNetwork | null = null;
  let replayer: AppReplayer | null = null;
  if (options.replay !== undefined) {
    if (options.record || options.backend !== undefined) throw new TypeError('createStack: replay runs on the recording: no backend or record with it');
    replayer = new AppReplayer(typeof options.replay === 'string' ? { path: options.replay } : options.replay);
    backend = new ReplayBackend(replayer);
  } else if (options.backend === 'sim') {
    network = options.network ?? new SimNetwork(options);
    backend = new SimBackend(network);
  } else if (options.backend === undefined || options.backend === 'node') {
    backend = createNodeBackend();
  } else {
    backend = options.backend;
  }
  const build = options.coreBuild ?? 'release.wasm';
  const rec = options.record ? startRecording(options.record, coreBytes(build), backend) : null;
  const recorder = rec?.recorder ?? null;
  const stack = new Stack(backend, {
    module: options.coreBuild ? coreWasm(options.coreBuild) : undefined,
    tap: rec?.tap,
    inputTap: replayer ?? rec?.inputTap,
  });
  const api: StackApi = {
    ...(makeNet(stack) as unknown as PublicNet),
    network,
    recorder,
    replay: replayer,
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
