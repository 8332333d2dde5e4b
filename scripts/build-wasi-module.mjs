#!/usr/bin/env node
// build/wasmer-wasi.wasm: @wasmer/wasi's own Wasm module, taken out of the bundle that inlines
// it (the same bytes host/core/wasm.ts decodes at run time on Node). A runtime that compiles no
// Wasm from bytes at run time (workerd) imports this file as a compiled module instead
// (docs/embedding.md, "workerd").
import { writeFileSync } from 'node:fs';
import { wasiModuleBytes } from '../build/host/core/wasm.js';

writeFileSync(new URL('../build/wasmer-wasi.wasm', import.meta.url), wasiModuleBytes());
