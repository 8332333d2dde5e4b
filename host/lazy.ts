// The parts of wasinet most programs never use — the recorder and its writer thread, the
// application replayer, replaying a trace, the simulated network's transport, the trace
// timeline, plugins — are
// loaded the first time they are asked for, not when wasinet is imported: about 30 ms of an
// 80 ms import on Node 20 here (their modules and the builtins they load: worker_threads,
// zlib, crypto). Node 20.19+, Deno and Bun all require an ES module synchronously, and give the
// same module instance that `import` gives, so a lazily loaded class is the class.
//
// The runtimes' backends load the same way (backend/load.ts; the node backend's public-API
// fallback only where libuv's handles are missing or WASINET_BACKEND=public asks for it), and so
// does node:zlib, which only compressed traces and digest-1 traces need.
//
// workerd runs a bundle, where there is no module URL to require from: its entry point
// (host/workerd.ts) imports these modules itself and hands them over with `provideModules`.
import { createRequire } from 'node:module';
import type * as Record from './trace/record.js';
import type * as AppReplay from './trace/app-replay.js';
import type * as SimBackend from './backend/sim/backend.js';
import type * as Timeline from './trace/timeline.js';
import type * as Rewrite from './trace/rewrite.js';
import type * as PluginLoad from './plugin/load.js';
import type * as CoreTrace from './core/trace.js';
import type * as NodeBackend from './backend/node.js';
import type * as NodePublicBackend from './backend/node-public.js';
import type * as NodeTls from './backend/node-tls.js';
import type * as NetTls from './net/tls.js';
import type * as RegisterHttp from './register/http.js';
import type * as DenoBackend from './backend/deno.js';
import type * as BunBackend from './backend/bun.js';
import type * as WorkerdBackend from './backend/workerd.js';

/** The modules loaded on first use, by their path from this folder. */
export interface LazyModules {
  './trace/record.js': typeof Record;
  './trace/app-replay.js': typeof AppReplay;
  './backend/sim/backend.js': typeof SimBackend;
  './trace/timeline.js': typeof Timeline;
  './trace/rewrite.js': typeof Rewrite;
  './plugin/load.js': typeof PluginLoad;
  './core/trace.js': typeof CoreTrace;
  './backend/node.js': typeof NodeBackend;
  './backend/node-public.js': typeof NodePublicBackend;
  './backend/node-tls.js': typeof NodeTls;
  './net/tls.js': typeof NetTls;
  './register/http.js': typeof RegisterHttp;
  './backend/deno.js': typeof DenoBackend;
  './backend/bun.js': typeof BunBackend;
  './backend/workerd.js': typeof WorkerdBackend;
  'node:zlib': typeof import('node:zlib');
}

const require = typeof import.meta.url === 'string' ? createRequire(import.meta.url) : null;
const loaded = new Map<string, unknown>();

/** Gives the modules a bundle holds already (workerd.ts), so they are never required. */
export function provideModules(modules: Partial<LazyModules>): void {
  for (const [file, m] of Object.entries(modules)) loaded.set(file, m);
}

/** node:zlib, loaded on first use. */
export function zlib(): typeof import('node:zlib') {
  return lazy('node:zlib');
}

/** One of the modules above, loaded on first use. */
export function lazy<K extends keyof LazyModules>(file: K): LazyModules[K] {
  let m = loaded.get(file) as LazyModules[K] | undefined;
  if (m === undefined) {
    if (!require) throw new Error(`wasinet: cannot load ${file} here (no module URL): import 'wasinet/workerd' in a workerd bundle`);
    m = require(file) as LazyModules[K];
    loaded.set(file, m);
  }
  return m;
}
