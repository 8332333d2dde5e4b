// wasinet for workerd (Cloudflare's runtime): `import net, { configure } from 'wasinet/workerd'`
// in a worker bundled with its dependencies. Everything of 'wasinet', plus what workerd needs
// and Node must not load: the workerd backend on `connect()` from 'cloudflare:sockets' (the
// runtime's default backend there), and @wasmer/wasi imported as a module so the bundler
// takes it in.
//
// workerd compiles no Wasm from bytes at run time and has no build/ to read: the worker
// imports the core (build/release.wasm) and @wasmer/wasi's own module (build/wasmer-wasi.wasm)
// as compiled modules and passes them to `configure` before its first socket
// (docs/embedding.md, "workerd").
import { connect } from 'cloudflare:sockets';
import * as wasmer from '@wasmer/wasi';
import { provideBackend } from './backend/load.js';
import { createWorkerdBackend } from './backend/workerd.js';
import { provideWasm } from './core/wasm.js';
import { provideModules } from './lazy.js';
// What the default entry loads on first use (lazy.ts), here in the bundle.
import * as record from './trace/record.js';
import * as appReplay from './trace/app-replay.js';
import * as simBackend from './backend/sim/backend.js';
import * as timeline from './trace/timeline.js';
import * as rewrite from './trace/rewrite.js';
import * as pluginLoad from './plugin/load.js';
import * as coreTrace from './core/trace.js';

provideBackend('workerd', () => createWorkerdBackend(connect));
provideModules({
  './trace/record.js': record, './trace/app-replay.js': appReplay, './backend/sim/backend.js': simBackend,
  './trace/timeline.js': timeline, './trace/rewrite.js': rewrite, './plugin/load.js': pluginLoad, './core/trace.js': coreTrace,
});

export interface WorkerdModules {
  /** build/release.wasm, imported as a module (a WebAssembly.Module). */
  core: WebAssembly.Module;
  /** build/wasmer-wasi.wasm, imported as a module. */
  wasi: WebAssembly.Module;
}

/** Gives wasinet its precompiled Wasm modules; call once, before the first socket or stack. */
export function configure(modules: WorkerdModules): void {
  provideWasm({ core: modules.core, wasi: modules.wasi, wasmer });
}

export * from './index.js';
export { default } from './index.js';
