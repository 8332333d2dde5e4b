// loadPlugin(): runs an untrusted Wasm guest (docs/guest.md) in its own worker thread, on its
// own stack, under a policy and limits, and gives the host a handle to watch and stop it.
//
// Containment: the guest's memory maximum is written into its module before it is compiled
// (module.ts); a trap or a bad import call ends the guest inside its thread (runtime.ts); a
// guest that never returns from a callback cannot be interrupted from inside, so this thread
// watches the time the call under way started (a shared array) and terminates the worker once
// it passes limits.cpuMs. Ending the worker closes every socket of its stack.
import { Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Writable } from 'node:stream';
import type { CreateStackOptions, StackApi } from '../net/create.js';
import type { SimOptions } from '../backend/sim.js';
import { compileGuest, GUEST_WASI } from './module.js';
import { runGuest } from './guest.js';
import { USAGE_SLOTS, type PluginExit, type PluginUsage } from './runtime.js';
import type { WorkerInit } from './worker.js';

export { GuestLoadError } from './module.js';
export type { PluginExit, PluginUsage } from './runtime.js';

export interface PluginLimits {
  /** Longest a single guest callback may run, in ms (default 1000); past it the plugin ends with 'cpu'. */
  cpuMs?: number;
  /** Maximum of the guest's linear memory, in bytes (default 256 MiB). */
  memory?: number;
  /** Every other limit is the stack's (issue 10: sockets, listeners, socketBuffer …). */
  [stackLimit: string]: number | undefined;
}

export interface PluginOptions extends SimOptions {
  /** What the guest may reach (the stack's policy, docs/sandbox.md). Absent: everything. */
  policy?: CreateStackOptions['policy'];
  limits?: PluginLimits;
  /** The guest's arguments after its name (argv[1] …). */
  args?: string[];
  /** argv[0]; default the file name, or 'plugin'. */
  name?: string;
  env?: Record<string, string>;
  /** Where the guest's fd 1 and log lines go (default process.stdout); a function gets the text. */
  stdout?: Writable | ((text: string) => void);
  /** Where the guest's fd 2 goes (default process.stderr). */
  stderr?: Writable | ((text: string) => void);
  /** 'node' (real sockets, default) or 'sim' (a simulated network of its own, seeded). */
  backend?: 'node' | 'sim';
  /** Record the plugin stack's boundary into this trace file (docs/replay.md). */
  record?: string;
  /**
   * Run the guest on this stack, in this thread, instead of a worker of its own: for a guest
   * that must share a simulated network with the caller. There is no cpuMs watchdog then (a
   * thread cannot interrupt itself); the memory maximum and fault handling still apply.
   */
  stack?: StackApi;
}

export interface Plugin {
  /** Resolves once, when the plugin has ended, with why. */
  readonly exited: Promise<PluginExit>;
  /** Ends the plugin (its sockets and servers are destroyed); resolves like `exited`. */
  stop(): Promise<PluginExit>;
  /** What the guest holds and has used so far. */
  usage(): PluginUsage;
}

const DEFAULT_CPU_MS = 1000;
const DEFAULT_MEMORY = 256 * 1024 * 1024;

/** The imports a guest may have (docs/guest.md). */
export const GUEST_IMPORTS = new Map<string, Set<string>>([
  ['wasi_snapshot_preview1', GUEST_WASI],
  ['wasinet_guest', new Set([
    'socket_open', 'socket_connect', 'socket_connect_ipc', 'server_listen', 'server_listen_ipc',
    'server_close', 'socket_write', 'socket_end', 'socket_destroy', 'socket_pause', 'socket_resume',
    'socket_set_timeout', 'socket_set_no_delay', 'address', 'timer_set', 'timer_clear', 'now', 'log', 'exit',
  ])],
]);

/**
 * Loads a guest (bytes or a path to a .wasm file) and starts it. Throws GuestLoadError at once
 * for a module that cannot be a guest (bad imports, no exported memory, memory over its limit).
 */
export function loadPlugin(wasm: Uint8Array | ArrayBuffer | string, options: PluginOptions = {}): Plugin {
  const bytes = typeof wasm === 'string' ? new Uint8Array(readFileSync(wasm)) : new Uint8Array(wasm as ArrayBuffer);
  const { cpuMs = DEFAULT_CPU_MS, memory = DEFAULT_MEMORY, ...stackLimits } = options.limits ?? {};
  const { module, maxBytes } = compileGuest(bytes, memory, GUEST_IMPORTS);
  const name = options.name ?? (typeof wasm === 'string' ? basename(wasm) : 'plugin');
  const config = { args: [name, ...(options.args ?? [])], env: options.env ?? {}, maxBytes, seed: options.seed ?? 1 };
  const out = writer(options.stdout ?? process.stdout);
  const err = writer(options.stderr ?? process.stderr);
  const output = (fd: number, bytes: Uint8Array) => (fd === 2 ? err : out)(bytes);

  let settle!: (r: PluginExit) => void;
  const exited = new Promise<PluginExit>((resolve) => { settle = resolve; });

  if (options.stack) {
    const rt = runGuest(module, options.stack, config, { output, exited: (r) => settle(r) });
    return {
      exited,
      stop: () => { rt?.end({ reason: 'stopped', code: 0, message: 'stopped by the host' }); return exited; },
      usage: () => ({ ...(rt?.usage ?? emptyUsage()) }),
    };
  }

  const { stack: _s, policy, backend, record, limits: _l, args: _a, name: _n, env: _e, stdout: _o, stderr: _r, ...sim } = options;
  const shared = new SharedArrayBuffer(8 * (USAGE_SLOTS.length + 1));
  const slots = new Float64Array(shared);
  const init: WorkerInit = {
    ...config, module, shared,
    stack: { ...sim, backend: backend ?? 'node', record, policy, limits: Object.keys(stackLimits).length ? stackLimits as Record<string, number> : undefined },
  };
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
  let result: PluginExit | null = null;
  const finish = (r: PluginExit) => {
    if (result) return;
    result = r;
    clearInterval(watchdog);
    clearTimeout(stopTimer);
    slots[0] = 0;
    void worker.terminate();
    settle(r);
  };
  worker.on('message', (msg: { type: string; fd: number; bytes: Uint8Array; result: PluginExit }) => {
    if (msg.type === 'out') output(msg.fd, msg.bytes);
    else if (msg.type === 'exit') finish(msg.result);
  });
  worker.on('error', (e) => finish({ reason: 'error', code: 1, message: `the plugin's thread failed: ${e.message}` }));
  worker.on('exit', () => finish({ reason: 'error', code: 1, message: "the plugin's thread ended without a reason" }));
  const watchdog = setInterval(() => {
    const started = slots[0];
    if (started > 0 && Date.now() - started > cpuMs) {
      finish({ reason: 'cpu', code: 1, message: `a callback ran for more than ${cpuMs} ms (limits.cpuMs): stopped` });
    }
  }, Math.max(5, Math.min(100, cpuMs / 4)));
  watchdog.unref();
  let stopTimer: NodeJS.Timeout | undefined;
  return {
    exited,
    stop: () => {
      if (!result) {
        worker.postMessage({ type: 'stop' });
        // A guest busy in a callback cannot read the message: end its thread after a grace period.
        stopTimer = setTimeout(() => finish({ reason: 'stopped', code: 0, message: 'stopped by the host (its thread was ended)' }), 1000);
      }
      return exited;
    },
    usage: () => {
      const u = emptyUsage();
      USAGE_SLOTS.forEach((k, i) => { u[k] = slots[i + 1]; });
      return u;
    },
  };
}

function emptyUsage(): PluginUsage {
  return { sockets: 0, servers: 0, timers: 0, bytesIn: 0, bytesOut: 0, callbacks: 0, cpuMs: 0, memory: 0 };
}

function writer(to: Writable | ((text: string) => void)): (bytes: Uint8Array) => void {
  if (typeof to === 'function') {
    const decoder = new TextDecoder();
    return (bytes) => to(decoder.decode(bytes, { stream: true }));
  }
  return (bytes) => { to.write(bytes); };
}
