// docs/guest.md is the guest's whole contract: its tables must say what the host does. These
// tests read the document and compare it with the host's import list, the ABI's error numbers
// and the AssemblyScript SDK's tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRNO_NAMES, SYSCALLS } from '../../host/core/abi.js';
import { GUEST_IMPORTS } from '../../host/plugin/load.js';
import * as wasinet from '../../host/index.js';
import { root } from './plugin-util.js';

const doc = readFileSync(join(root, 'docs/guest.md'), 'utf8');
const sdk = readFileSync(join(root, 'guest/wasinet.ts'), 'utf8');

/** The first-column names of the table rows under heading `h` (`name` in backquotes). */
function tableNames(heading: string): string[] {
  const from = doc.indexOf(`\n## ${heading}`);
  assert.ok(from >= 0, heading);
  const section = doc.slice(from + 1, doc.indexOf('\n## ', from + 1));
  return [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
}

test('guest.md lists exactly the wasinet_guest imports the host offers', () => {
  assert.deepEqual(tableNames('Imports').sort(), [...GUEST_IMPORTS.get('wasinet_guest')!].sort());
});

test('guest.md names exactly the WASI functions the host offers', () => {
  const wasi = doc.slice(doc.indexOf('\n## WASI'), doc.indexOf('\n## How a plugin ends'));
  const named = [...wasi.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).filter((n) => n !== 'wasi_snapshot_preview1');
  assert.deepEqual([...new Set(named)].sort(), [...GUEST_IMPORTS.get('wasi_snapshot_preview1')!].sort());
});

test('guest.md lists the exports the runtime calls', () => {
  const runtime = ['runtime.ts', 'imports.ts'].map((f) => readFileSync(join(root, 'host/plugin', f), 'utf8')).join('\n');
  const called = [...new Set([...runtime.matchAll(/'(wasinet_[a-z_]+)'/g)].map((m) => m[1]))].filter((n) => n !== 'wasinet_main');
  assert.deepEqual(tableNames('Exports').sort(), called.sort());
});

test('guest.md\'s error table and syscall list are the ABI\'s numbers, and so are the SDK\'s', () => {
  const pairs = [...doc.matchAll(/\| (\d+) \| ([A-Z_]+) /g)].map((m) => [Number(m[1]), m[2]] as const);
  assert.equal(pairs.length, ERRNO_NAMES.length - 1);
  for (const [n, name] of pairs) assert.equal(ERRNO_NAMES[n], name, `errno ${n}`);
  const syscalls = /`syscall`: (.*?)\. A connect/s.exec(doc)![1].replace(/\s+/g, ' ').split(', ').map((s) => s.split(' '));
  assert.deepEqual(syscalls.map(([n, name]) => [Number(n), name]), SYSCALLS.map((name, i) => [i, name]));
  assert.ok(sdk.includes(`export const ERRNO_NAMES: string[] = ${JSON.stringify(ERRNO_NAMES).replace(/","/g, '", "')};`), 'SDK ERRNO_NAMES');
  assert.ok(sdk.includes(`export const SYSCALL_NAMES: string[] = ${JSON.stringify(SYSCALLS).replace(/","/g, '", "')};`), 'SDK SYSCALL_NAMES');
  for (const m of sdk.matchAll(/export const (E[A-Z]+): i32 = (\d+);/g)) assert.equal(ERRNO_NAMES[Number(m[2])], m[1]);
});

test('the package exports loadPlugin and GuestLoadError', () => {
  assert.equal(typeof wasinet.loadPlugin, 'function');
  assert.equal(typeof wasinet.GuestLoadError, 'function');
});
