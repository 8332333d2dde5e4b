// wasinet's public types are node:net's: code written for node:net type-checks against wasinet.
// tests/types/impl.ts also checks the casts behind them: the real classes are assignable to node:net's types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));

test('a node:net program importing wasinet type-checks (tsc --noEmit against the package types)', { timeout: 60000 }, () => {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tests/types/tsconfig.json')],
    { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
