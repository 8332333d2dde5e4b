#!/usr/bin/env node
// Builds the guests: the example plugins (guest/examples/*.ts -> build/plugins/*.wasm) and the
// test guests (tests/guests/*.ts -> build/tests/guests/*.wasm), with the AssemblyScript SDK in
// guest/. Guests are WASI reactors (exportStart _initialize) on the wasi-shim, so console.log,
// process.argv, Date.now and Math.random go through the WASI functions docs/guest.md names.
import asc from 'assemblyscript/asc';
import { readdirSync, existsSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const shim = 'node_modules/@assemblyscript/wasi-shim/assembly';
const jobs = [['guest/examples', 'build/plugins'], ['tests/guests', 'build/tests/guests']];
let failed = 0;
for (const [from, to] of jobs) {
  if (!existsSync(join(root, from))) continue;
  for (const file of readdirSync(join(root, from)).filter((f) => f.endsWith('.ts')).sort()) {
    const out = join(to, `${basename(file, '.ts')}.wasm`);
    const { error, stderr } = await asc.main([
      join(from, file), '--outFile', out, '--optimizeLevel', '3', '--shrinkLevel', '0',
      '--lib', shim, '--use', 'ASC_WASI=1', '--use', 'abort=wasi_abort', '--use', 'trace=wasi_trace',
      '--use', 'seed=wasi_seed', '--use', 'console=wasi_console', '--use', 'process=wasi_process',
      '--use', 'Date=wasi_Date', '--exportStart', '_initialize', '--runtime', 'incremental',
      '--config', 'none',
    ], { stdout: process.stdout, stderr: process.stderr, readFile: undefined });
    if (error) {
      failed++;
      console.error(`build-plugins: ${file}: ${error.message}\n${stderr.toString()}`);
    }
  }
}
// The C examples (guest/examples-c/*.c -> build/plugins/*-c.wasm) prove the interface is
// language-neutral; they need clang with the wasm32 target and lld (Debian: clang lld), and are
// skipped (their tests too) where those are not installed.
const cDir = join(root, 'guest/examples-c');
if (spawnSync('clang', ['--version']).status === 0 && existsSync(cDir)) {
  mkdirSync(join(root, 'build/plugins'), { recursive: true });
  for (const file of readdirSync(cDir).filter((f) => f.endsWith('.c')).sort()) {
    const out = join(root, 'build/plugins', `${basename(file, '.c')}-c.wasm`);
    const r = spawnSync('clang', ['--target=wasm32', '-O2', '-nostdlib', '-Wl,--no-entry', '-Wl,--export-dynamic', '-o', out, join(cDir, file)], { encoding: 'utf8' });
    if (r.status !== 0) {
      failed++;
      console.error(`build-plugins: ${file}: ${r.stderr || r.error}`);
    }
  }
} else {
  console.log('build-plugins: clang not found: the C example guests are not built (apt-get install clang lld)');
}
process.exitCode = failed ? 1 : 0;
