// docs/abi.md is the contract another host is written from: every op (with its number), every
// errno (with its number) and every input export of the core must be in it, as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OP_NAMES, ERRNO_NAMES } from '../../host/core/abi.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const doc = readFileSync(join(root, 'docs/abi.md'), 'utf8');

test('docs/abi.md lists every command and notification with its number', () => {
  for (let op = 1; op < OP_NAMES.length; op++) {
    const name = OP_NAMES[op].replace(/^(CMD|EV)_/, '');
    assert.match(doc, new RegExp(`\\| ${op} \\| \`${name}\` \\|`), `op ${op} ${name}`);
  }
});

test('docs/abi.md lists every errno with its number', () => {
  for (let n = 1; n < ERRNO_NAMES.length; n++) {
    assert.match(doc, new RegExp(`\`${ERRNO_NAMES[n]}\` ${n}\\b`), `${ERRNO_NAMES[n]} ${n}`);
  }
});

test('docs/abi.md describes every input export of the core', () => {
  const module = new WebAssembly.Module(readFileSync(join(root, 'build/release.wasm')));
  const inputs = WebAssembly.Module.exports(module).map((e) => e.name).filter((n) => /^(api|on)[A-Z]/.test(n));
  assert.ok(inputs.length > 25);
  for (const name of inputs) assert.match(doc, new RegExp(`\\| \`${name}\` \\|`), name);
});
