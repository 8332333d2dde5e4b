// Runs every differential scenario on node:net and on wasinet and compares the event logs;
// and checks that the comparison itself catches a reordered or a dropped event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import wasinet from '../../host/index.js';
import { runScenario, compareLogs, differential, type NetLike, type Scenario } from './diff/harness.js';
import { socketScenarios } from './diff/scenarios-socket.js';
import { connectScenarios } from './diff/scenarios-connect.js';
import { socketIoScenarios } from './diff/scenarios-socket-io.js';

const all: [string, Scenario[]][] = [['socket', socketScenarios], ['socket connect', connectScenarios], ['socket io', socketIoScenarios]];

for (const [group, scenarios] of all) {
  for (const s of scenarios) {
    test(`diff ${group}: ${s.name}`, { timeout: (s.timeout ?? 10000) * 2 + 5000 }, async () => {
      const { expected, diff } = await differential(s, nodeNet, () => ({ lib: wasinet as unknown as NetLike }));
      assert.ok(expected.length > 0, 'the scenario logged something');
      assert.equal(diff, null, diff ?? '');
    });
  }
}

test('diff harness self-test: a reordered or a dropped event is reported', async () => {
  const s = socketScenarios[0];
  const log = await runScenario(s, nodeNet);
  assert.ok(log.length >= 4);
  assert.equal(compareLogs(log, [...log]), null);
  const reordered = [...log];
  [reordered[1], reordered[2]] = [reordered[2], reordered[1]];
  assert.notEqual(compareLogs(log, reordered), null);
  const dropped = log.filter((_, i) => i !== log.length - 2);
  assert.notEqual(compareLogs(log, dropped), null);
  assert.notEqual(compareLogs(log, [...log, 'client close false']), null);
});
