// Runs the differential server/IPC scenarios on node:net and on wasinet and compares the event
// logs (the same way diff.test.ts runs the socket scenarios).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import wasinet from '../../host/index.js';
import { differential, type NetLike } from './diff/harness.js';
import { serverScenarios } from './diff/scenarios-server.js';

for (const s of serverScenarios) {
  test(`diff server: ${s.name}`, { timeout: (s.timeout ?? 10000) * 2 + 5000 }, async () => {
    const { expected, diff } = await differential(s, nodeNet, () => ({ lib: wasinet as unknown as NetLike }));
    assert.ok(expected.length > 0, 'the scenario logged something');
    assert.equal(diff, null, diff ?? '');
  });
}
