#!/usr/bin/env node
// Builds the guests: the example plugins (guest/examples/*.ts -> build/plugins/*.wasm) and the
// test guests (tests/guests/*.ts -> build/tests/guests/*.wasm), with the AssemblyScript SDK in
// guest/. Guests are WASI reactors (exportStart _initialize) on the wasi-shim, so console.log,
// process.argv, Date.now and Math.random go through the WASI functions docs/guest.md names.
import asc from 'assemblyscript/asc';
import { readdirSync, existsSync } from 'node:fs';
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
process.exitCode = failed ? 1 : 0;
