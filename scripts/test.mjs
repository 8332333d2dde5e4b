#!/usr/bin/env node
// `npm test`: every layer of tests, one closing line.
//   1. as-pect: the core's unit tests (tests/assembly);
//   2. node:test: everything else, compiled to build/tests/host (sim, end-to-end, replay);
//   3. node:test again for the tests that use real sockets, on the public-API node backend.
// as-pect prints "[Tests]: X / Y" in colour and node:test prints its own summary; this script
// runs both, shows their output, and ends with "N passed, N failed, N skipped" for all of them.
// Pass file name filters to run only some node:test files: `npm test -- replay socket`.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0, failed = 0, skipped = 0;
/** The failing tests' names, where they are and their error's first line, shown above the total. */
const failures = [];

if (filters.length === 0) {
  const asp = spawnSync(process.execPath, [join(root, 'node_modules/@as-pect/cli/bin/asp'), '--summary'],
    { cwd: root, encoding: 'utf8' });
  const out = strip(`${asp.stdout}${asp.stderr}`);
  const lines = out.split('\n');
  const from = lines.findIndex((l) => l.startsWith('ASC Version'));
  console.log(lines.slice(from + 1).filter((l) => l.trim() !== '').join('\n'));
  const m = /\[Tests\]:\s*(\d+)\s*\/\s*(\d+)/.exec(out);
  if (m) {
    passed += Number(m[1]);
    failed += Number(m[2]) - Number(m[1]);
  } else {
    console.log('as-pect did not report a test count: counting the run as one failure');
    failed += 1;
  }
}

const dir = join(root, 'build/tests/host');
const all = readdirSync(dir).filter((f) => f.endsWith('.test.js'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const tmp = mkdtempSync(join(tmpdir(), 'wasinet-test-'));

/** The failed tests of a TAP report: "name (file:line): error", innermost first where nested. */
function failedIn(report) {
  const out = [];
  const lines = report.split('\n');
  lines.forEach((line, i) => {
    const m = /^(\s*)not ok \d+ - (.*)$/.exec(line);
    if (!m) return;
    let where = '', error = '';
    for (let j = i + 1; j < lines.length && j < i + 40; j++) {
      const l = lines[j];
      if (/^\s*(not )?ok \d+ /.test(l)) break;
      const loc = /^\s*location: '(.*)'$/.exec(l);
      if (loc && !where) where = loc[1].replace(root, '');
      const err = /^\s*error: (.*)$/.exec(l);
      if (err && !error) error = err[1] === '|-' || err[1] === '>-' ? (lines[j + 1] ?? '').trim() : err[1];
    }
    out.push(`${m[2]}${where ? ` (${where})` : ''}${error ? `: ${error.slice(0, 200)}` : ''}`);
  });
  return out;
}

/** The longest a test file may take (the runtimes' file takes about 4 minutes). */
const FILE_TIMEOUT_MS = 15 * 60 * 1000;

/** Runs node:test on `files` with `env`; adds its counts to the totals. */
function nodeTest(label, files, env) {
  if (files.length === 0) return;
  if (label) console.log(`\n${label}`);
  const tap = join(tmp, `report-${label ? 'public' : 'default'}.tap`);
  // A file whose tests all passed but whose process never exits (something left open) would hold
  // the whole run: node:test cancels a file that takes longer than --test-timeout (and a test
  // with no timeout of its own), which counts as a failure, named in the list below.
  const run = spawnSync(process.execPath, [
    '--test', `--test-timeout=${FILE_TIMEOUT_MS}`, '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files.map((f) => join(dir, f)),
  ], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, WASINET_TEST_TMP: tmp, ...env } });
  let report = '';
  try { report = readFileSync(tap, 'utf8'); } catch {}
  const count = (name) => Number((new RegExp(`^# ${name} (\\d+)$`, 'm').exec(report) ?? [])[1] ?? 0);
  if (count('tests') === 0) {
    console.log(`node:test reported nothing (exit ${run.status}): counting the run as one failure`);
    failed += 1;
  }
  passed += count('pass');
  failed += count('fail') + count('cancelled');
  failures.push(...failedIn(report).map((f) => `${label ? '[public backend] ' : ''}${f}`));
  skipped += count('skipped') + count('todo');
}

// 1. Every test, on the default node backend (libuv's handles where Node offers them).
nodeTest('', all, {});
// 2. The tests that use real sockets again, on the public-API fallback (node:net Sockets as the
//    transport), which must behave the same. Tests of the simulator alone do not touch it.
// (runtimes, workerd: Deno, Bun and workerd run on their own backends, whatever this pass selects.)
const simOnly = /^(sim-|diff-sim|abi-doc|types|runtimes|workerd)/;
nodeTest('The same on the public-API node backend (WASINET_BACKEND=public):',
  all.filter((f) => !simOnly.test(f)), { WASINET_BACKEND: 'public' });
rmSync(tmp, { recursive: true, force: true });

if (failures.length > 0) console.log(`\nFailed:\n${failures.map((f) => `  ${f}`).join('\n')}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
