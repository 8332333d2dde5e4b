// createStack(): a `net`-shaped object with its own core instance and backend.
import type { TLSSocket } from 'node:tls';
import type * as NodeTls from 'node:tls';
import type * as NodeNet from 'node:net';
import { Stack } from './stack.js';
import { makeNet, type PublicNet } from './api.js';
import type { Backend } from '../backend/backend.js';
import { createBackendFor, createRuntimeBackend } from '../backend/load.js';
import { coreWasm, coreBytes } from '../core/wasm.js';
import type { RecordOptions, Recording } from '../trace/record.js';
import type { AppReplayer, ReplayOptions, Replaying } from '../trace/app-replay.js';
import { SimNetwork, type SimOptions } from '../backend/sim/network.js';
import { lazy } from '../lazy.js';
import { encodePolicy, limitValues, type PolicyOptions, type LimitOptions } from './policy.js';
import { usageOf, type StackUsage } from './usage.js';
import { ERR_INVALID_ARG_VALUE } from './errors.js';

export interface CreateStackOptions extends SimOptions {
  /**
   * Real sockets on 'node' (libuv), 'deno', 'bun' or 'workerd' (their own socket APIs; the
   * default is the runtime's own), 'sim' (a simulated network), or a Backend object.
   */
  backend?: 'node' | 'deno' | 'bun' | 'workerd' | 'sim' | Backend;
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
  /** What the stack's sockets may reach (docs/sandbox.md). Absent: everything. */
  policy?: PolicyOptions;
  /** Counts and bytes the stack may use (docs/sandbox.md). Absent: no limits. */
  limits?: LimitOptions;
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
  /** Counts and bytes in use, each against its limit (docs/sandbox.md). */
  usage(): StackUsage;
  /**
   * tls.connect on this stack: on the node backends the session runs below the core, which sees
   * (and a recording keeps) its plaintext; elsewhere Node's TLS over a socket of the stack (host/net/tls.ts).
   */
  tlsConnect(...args: unknown[]): TLSSocket;
  /**
   * Makes Node's tls.Server `server` (from tls.createServer, https.createServer or
   * http2.createSecureServer) listen on this stack: its listen, close, address … are a server of
   * this stack's, and on the node backends each connection's session runs below the core, which
   * sees (and a recording keeps) its plaintext; 'secureConnection' gives a wasinet TLSSocket.
   * Returns `server`.
   */
  tlsServe<T extends NodeTls.Server>(server: T): T;
}

export function createStack(options: CreateStackOptions = {}): StackApi {
  // Checked first: a bad rule throws before anything is made.
  const policy = options.policy !== undefined ? encodePolicy(options.policy) : undefined;
  const limits = options.limits !== undefined ? limitValues(options.limits) : undefined;
  let backend: Backend;
  let network: SimNetwork | null = null;
  let replayer: AppReplayer | null = null;
  if (options.replay !== undefined) {
    if (options.record || options.backend !== undefined) throw new TypeError('createStack: replay runs on the recording: no backend or record with it');
    const { AppReplayer, ReplayBackend } = lazy('./trace/app-replay.js');
    replayer = new AppReplayer(typeof options.replay === 'string' ? { path: options.replay } : options.replay);
    backend = new ReplayBackend(replayer);
  } else if (options.backend === 'sim') {
    network = options.network ?? new SimNetwork(options);
    backend = new (lazy('./backend/sim/backend.js').SimBackend)(network);
  } else if (options.backend === undefined) {
    backend = createRuntimeBackend();
  } else if (options.backend === 'node' || options.backend === 'deno' || options.backend === 'bun' || options.backend === 'workerd') {
    backend = createBackendFor(options.backend);
  } else {
    backend = options.backend;
  }
  const build = options.coreBuild ?? 'release.wasm';
  const rec = options.record
    ? lazy('./trace/record.js').startRecording(options.record, coreBytes(build), backend, { policy: options.policy, limits: options.limits }) : null;
  const recorder = rec?.recorder ?? null;
  const stack = new Stack(backend, {
    module: options.coreBuild ? coreWasm(options.coreBuild) : undefined,
    tap: rec?.tap,
    inputTap: replayer ?? rec?.inputTap,
    policy,
    limits,
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
    usage: () => usageOf(stack),
    tlsConnect: (...args) => lazy('./net/tls.js').connectTls(stack, null, ...args) as TLSSocket,
    tlsServe: (server) => {
      if (!(server instanceof (process.getBuiltinModule('node:tls') as typeof NodeTls).Server)) throw ERR_INVALID_ARG_VALUE('server', server, 'is not a tls.Server (tls.createServer, https.createServer, http2.createSecureServer)');
      return lazy('./register/http.js').serveTls(api as unknown as typeof NodeNet, server, lazy('./net/tls.js').acceptTls);
    },
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
