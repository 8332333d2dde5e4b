// The trace's table of the core's inputs (host/core/inputs.ts) against the core itself: every
// input export is in it, with the argument count the export takes after `now` — a trace records
// that many numbers per input, so a changed signature must change the table too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStack } from '../../host/index.js';
import { stackOf } from '../../host/net/create.js';
import { INPUTS } from '../../host/core/inputs.js';

test('every input of the trace table is an export of the core with that many arguments after now', () => {
  const exports = stackOf(createStack({ backend: 'sim' })).core.exports as unknown as Record<string, unknown>;
  for (const x of INPUTS) {
    const fn = exports[x.name];
    assert.equal(typeof fn, 'function', `${x.name} is an export`);
    assert.equal((fn as Function).length - 1, x.argc, `${x.name} takes ${x.argc} arguments after now`);
  }
  // And every api*/on* export of the core is in the table.
  const inputs = Object.keys(exports).filter((k) => /^(api|on)[A-Z]/.test(k) && typeof exports[k] === 'function');
  assert.deepEqual(inputs.filter((k) => !INPUTS.some((x) => x.name === k)), []);
});
