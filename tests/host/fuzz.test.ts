// The core's boundary under random inputs (tests/host/fuzz-core.ts): at least 1,000,000 inputs
// per run, invariants after each. FUZZ_SEED picks the first seed (a failure prints its seed and
// input number: FUZZ_SEED=<seed> FUZZ_INPUTS=<n> replays it); FUZZ_INPUTS the inputs per seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from './fuzz-core.js';

test('fuzz: 1,000,000 random inputs to a bare core, no invariant broken', { timeout: 120000 }, () => {
  const first = Number(process.env.FUZZ_SEED ?? 1);
  const perSeed = Number(process.env.FUZZ_INPUTS ?? 50000);
  const total = Number(process.env.FUZZ_TOTAL ?? 1000000);
  let inputs = 0, outputs = 0, closed = 0, data = 0;
  const started = Date.now();
  for (let seed = first; inputs < total; seed++) {
    const r = runFuzz(seed, Math.min(perSeed, total - inputs)); // throws naming seed and input
    inputs += r.inputs; outputs += r.outputs; closed += r.closed; data += r.data;
  }
  // The run reached the interesting states, or it says little.
  assert.ok(closed > 1000 && data > 1000 && outputs > inputs / 4, `closed ${closed}, data ${data}, outputs ${outputs}`);
  console.log(`fuzz: ${inputs} inputs, ${outputs} outputs, ${closed} sockets closed, ${data} DATA, ${Date.now() - started} ms`);
});
