// Loading the core: compile build/release.wasm once per process, instantiate it once per stack,
// inside a WASI environment from @wasmer/wasi. All of it is synchronous, so `import 'wasinet'`
// and `require('wasinet')` hand back a ready module with no top-level await.
//
// @wasmer/wasi needs its own Wasm module initialised first. Its async `init()` decodes the
// module its bundle inlines; we take that same inlined module and give it to `initSync`.
// The core's diagnostics (an abort message, a trace) go to WASI stdout/stderr, which @wasmer/wasi
// captures; `drainDiagnostics` hands them over so the host can forward them.
//
// The core calls WASI only when it traps (the abort's message) or in a debug build's trace, so
// setting @wasmer/wasi up at the first WASI call instead looked free: 22 ms less start-up. It was
// tried on 2026-12-06 and taken back: a fresh process then spent about 10 % more CPU on its first
// 3,000 connections (+25 µs each, 7 of 8 interleaved runs), which is what the bench's connect
// cells measure; setting the environment up at the first stack again, through the same
// forwarding imports, brought it back. Why V8 runs the connection code faster after @wasmer/wasi's
// setup is not understood (docs/benchmark.md, "Start-up").
//
// A runtime that may not compile Wasm from bytes and has no files (workerd: docs/embedding.md)
// gives all three precompiled instead, before its first stack: `provideWasm` takes the core's
// module, @wasmer/wasi's own module (build/wasmer-wasi.wasm, extracted from its bundle at build
// time) and the @wasmer/wasi library itself (bundled with the worker). On Node nothing changes:
// the library is required at import, as before, and the rest is read from files when first used.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';

type Wasmer = typeof import('@wasmer/wasi');

// No module URL (a bundle inside workerd): no require either, and provideWasm must be called.
const require = typeof import.meta.url === 'string' ? createRequire(import.meta.url) : null;
// Loaded with require(), not import: an ESM import of this 450 KB CommonJS bundle first runs
// Node's export scanner over all of it (about 20 ms of every process start).
let wasmer: Wasmer | null = require ? require('@wasmer/wasi') as Wasmer : null;
let wasiModule: WebAssembly.Module | null = null;

export interface ProvidedWasm {
  /** The core (build/release.wasm), compiled: used wherever build/release.wasm would be read. */
  core?: WebAssembly.Module;
  /** @wasmer/wasi's own module (build/wasmer-wasi.wasm), compiled. */
  wasi?: WebAssembly.Module;
  /** The @wasmer/wasi library (`import * as wasmer from '@wasmer/wasi'`). */
  wasmer?: Pick<Wasmer, 'WASI' | 'initSync'>;
}

/**
 * Precompiled modules for a runtime that cannot compile Wasm from bytes or read build/ (workerd).
 * Call before the first stack is used; what is not given is loaded as usual.
 */
export function provideWasm(p: ProvidedWasm): void {
  if (p.core) compiled.set('release.wasm', p.core);
  if (p.wasi) wasiModule = p.wasi;
  if (p.wasmer) wasmer = p.wasmer as Wasmer;
}

/** The inlined module's bytes, from @wasmer/wasi's bundle (the build writes them to build/wasmer-wasi.wasm). */
export function wasiModuleBytes(): Buffer {
  if (!require) throw new Error('wasinet: no module URL to find @wasmer/wasi from: call provideWasm({ wasi }) first');
  const bundle = readFileSync(require.resolve('@wasmer/wasi'), 'latin1');
  const start = bundle.indexOf('data:application/wasm;base64,');
  if (start < 0) throw new Error('wasinet: cannot find the Wasm module inlined in @wasmer/wasi');
  const end = bundle.indexOf('"', start);
  return Buffer.from(bundle.slice(start + 'data:application/wasm;base64,'.length, end), 'base64');
}

/**
 * The bytes of @wasmer/wasi's module: build/wasmer-wasi.wasm when the build took it from the
 * bundle installed now (build/wasmer-wasi.json has that bundle's size), else decoded from the
 * bundle (5 ms more at the first stack: reading 450 KB and decoding its base64).
 */
function wasiBytes(): Buffer {
  try {
    const meta = JSON.parse(readFileSync(new URL('../../wasmer-wasi.json', import.meta.url), 'utf8')) as { bundleBytes?: number };
    if (require && meta.bundleBytes === statSync(require.resolve('@wasmer/wasi')).size) {
      return readFileSync(new URL('../../wasmer-wasi.wasm', import.meta.url));
    }
  } catch {
    // not built (a copy of host/ alone): decode the bundle
  }
  return wasiModuleBytes();
}

let wasiReady = false;
function initWasi(): Wasmer {
  if (!wasmer) throw new Error('wasinet: @wasmer/wasi is not loaded: call provideWasm({ wasmer }) first (docs/embedding.md)');
  if (wasiReady) return wasmer;
  wasmer.initSync(wasiModule ?? new WebAssembly.Module(wasiBytes() as Uint8Array<ArrayBuffer>));
  wasiReady = true;
  return wasmer;
}

const compiled = new Map<string, WebAssembly.Module>();
const bytesOf = new Map<string, Buffer>();

/** The bytes of a core build in build/ (a trace names the core it was recorded with). */
export function coreBytes(name = 'release.wasm'): Buffer {
  let b = bytesOf.get(name);
  if (b === undefined) {
    b = readFileSync(new URL(`../../${name}`, import.meta.url));
    bytesOf.set(name, b);
  }
  return b;
}

/**
 * A compiled core, shared by every stack of the process: build/release.wasm by default, or
 * another build of the same core (build/testing.wasm adds hooks for tests).
 */
export function coreWasm(name = 'release.wasm'): WebAssembly.Module {
  let m = compiled.get(name);
  if (m === undefined) {
    m = compileTieredUp(coreBytes(name));
    compiled.set(name, m);
  }
  return m;
}

/**
 * Compiles the core with every function optimized from the start. V8 (Node, Deno) runs Wasm
 * first as baseline (Liftoff) code and optimizes a function only once it has run a lot; the
 * core is many small functions each run a few times per connection, so a fresh process ran
 * most of its first thousands of connections in baseline code (measured: 1 client connecting
 * 3,000 times, 7-15 % more connections per second with eager optimization). Turning dynamic
 * tiering off for this one compile makes V8 optimize all of the core's functions on a
 * background thread right after the baseline compile (about 10 ms of CPU for the 52 KB core).
 * The flag is read when a module is compiled, so it is set back at once; nothing else the
 * process compiles is affected. Left alone when the process was given any Wasm tiering flag of
 * its own, and outside V8.
 */
function compileTieredUp(bytes: Buffer): WebAssembly.Module {
  const v8 = tieringSwitch();
  if (v8 === null) return new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  v8.setFlagsFromString('--no-wasm-dynamic-tiering');
  try {
    return new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } finally {
    v8.setFlagsFromString('--wasm-dynamic-tiering');
  }
}

function tieringSwitch(): { setFlagsFromString(flags: string): void } | null {
  if (!require || (globalThis as { Bun?: unknown }).Bun !== undefined || typeof process !== 'object') return null;
  const given = [...(process.execArgv ?? []), ...(process.env?.NODE_OPTIONS ?? '').split(/\s+/)];
  if (given.some((flag) => /^--(no-)?(wasm|liftoff|jitless)/.test(flag))) return null;
  try {
    const v8 = require('node:v8') as { setFlagsFromString?: (flags: string) => void };
    return typeof v8.setFlagsFromString === 'function' ? v8 as { setFlagsFromString(flags: string): void } : null;
  } catch {
    return null;
  }
}

export interface CoreExports {
  readonly memory: WebAssembly.Memory;
  [name: string]: any;
}

export interface LoadedCore {
  exports: CoreExports;
  /** Returns what the core wrote to stdout and stderr since the last call. */
  drainDiagnostics(): string;
}

/** A fresh instance of the core, whose only import of ours is `out`. */
export function instantiateCore(out: (op: number, h: number, a: number, b: number, c: number, ptr: number, len: number) => void,
  module: WebAssembly.Module = coreWasm()): LoadedCore {
  const { WASI } = initWasi();
  const wasi = new WASI({ args: [], env: {} });
  const imports = wasi.getImports(module) as WebAssembly.Imports;
  const instance = new WebAssembly.Instance(module, { ...imports, wasinet: { out } });
  wasi.instantiate(instance, {});
  (instance.exports._initialize as () => void)();
  return {
    exports: instance.exports as unknown as CoreExports,
    drainDiagnostics() {
      return wasi.getStdoutString() + wasi.getStderrString();
    },
  };
}
