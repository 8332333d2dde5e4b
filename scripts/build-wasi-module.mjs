#!/usr/bin/env node
// build/wasmer-wasi.wasm: @wasmer/wasi's own Wasm module, taken out of the bundle that inlines
// it (the same bytes host/core/wasm.ts decodes at run time on Node). A runtime that compiles no
// Wasm from bytes at run time (workerd) imports this file as a compiled module instead
// (docs/embedding.md, "workerd").
// build/wasmer-wasi.json notes the size of the bundle it came from: host/core/wasm.ts reads the
// .wasm instead of decoding the bundle only while that bundle is the one installed.
import { statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { wasiModuleBytes } from '../build/host/core/wasm.js';

const bundle = createRequire(import.meta.url).resolve('@wasmer/wasi');
writeFileSync(new URL('../build/wasmer-wasi.wasm', import.meta.url), wasiModuleBytes());
writeFileSync(new URL('../build/wasmer-wasi.json', import.meta.url), JSON.stringify({ bundleBytes: statSync(bundle).size }) + '\n');
