// The differential scenarios on Deno and Bun: wasinet on each runtime's own socket API (the
// Deno and Bun backends) must log what node:net logs on Node, scenario by scenario. The same
// scenarios also run on Deno's and Bun's built-in node:net, for comparison: those runs are
// counted and reported (the README's table), not asserted — they measure the runtimes.
//
// Each run is tests/runtimes/diff-runner.ts executed by the runtime (deno and bun come from
// the pinned devDependencies of the same names); the reference is the same runner on this Node.
// A runtime that is not installed or cannot start is skipped with the reason.
//
// A few scenarios cannot pass on a runtime whatever the backend does: its socket API has no way
// to do what the scenario checks. They are listed below with the reason and reported as skipped;
// one that starts passing is reported too, so the list can shrink.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { compareLogs } from './diff/harness.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const runner = join(root, 'build/tests/runtimes/diff-runner.js');
const portable = join(root, 'build/tests/runtimes/portable.js');
const lingerScript = join(root, 'build/tests/runtimes/linger.js');
const starttlsScript = join(root, 'build/tests/runtimes/starttls.js');
const dripScript = join(root, 'build/tests/runtimes/replay-drip.js');
type Result = Record<string, string[] | { error: string }>;

const NO_LOCAL_BIND = 'the runtime\'s connect cannot bind a local address or port';
const NO_RESET = 'Deno has no way to reset a connection (no SO_LINGER, no abort): a reset is a plain close';
const NO_IPV6ONLY = 'the runtime\'s listen has no ipv6Only option (IPv6 listeners are dual-stack)';
const NO_HANDLE = 'the runtime\'s sockets have no handle a second server can listen on';
const NO_SYNC_EPIPE = 'writes are asynchronous: an EPIPE cannot fail write() itself, as libuv\'s try-write does';
const NO_SYNC_RESET = 'the runtime\'s writes are asynchronous: a reset already in the kernel cannot fail write() itself, as libuv\'s try-write does';
const NO_NAME_CONNECTING = 'the runtime\'s connect gives no socket before it is connected: no local name while connecting';
const OWN_WRITES = 'the runtime writes on its own schedule, not one system call per libuv write: which of its writes meets ' +
  'the closed peer\'s reset, and which write() that fails, is its own';
const LOOP_PHASES = 'orders the events of two sockets by the phases of libuv\'s loop (poll, check, close) across a ' +
  'wall-clock sleep: another event loop orders them otherwise (the simulated runs leave it out for the same reason)';
const BUN_ASYNC_ITERATOR = 'Bun\'s node:stream (the Readable under every Socket) ends an async iteration with a plain ' +
  'Error of code ABORT_ERR, not an AbortError';
const NO_CLOSE_PHASE = 'wasinet has no handle of the runtime\'s to close for libuv\'s close phase there: a setImmediate stands in, ' +
  'which runs before the setImmediate callbacks queued after it';
const NO_PENDING_PHASE = 'wasinet has no callback of the runtime\'s loop that runs where libuv\'s pending phase does (before the next poll): ' +
  'the check phase after that poll stands in, after the reads of the poll';
const NO_FD = 'the runtime\'s sockets have no file descriptor of the OS: the scenario listens on one of a peer server\'s';
const ENGINE_MESSAGE = 'the TypeError is the engine\'s own (Node\'s destructuring of an empty list): JavaScriptCore words it otherwise';
const DNS_CONSTANTS = 'the scenario passes the runtime\'s dns.ADDRCONFIG | dns.V4MAPPED, which are other numbers on Deno (64 | 16)';

export const CANNOT_PASS: Record<'deno' | 'bun', Record<string, string>> = {
  deno: {
    'socket connect: custom lookup: options it receives by default, with hints, with family 6 and with autoSelectFamily false': DNS_CONSTANTS,
    'socket connect: localAddress 127.0.0.1 with a chosen localPort': NO_LOCAL_BIND,
    'socket connect: localPort already listened on: bind EADDRINUSE': NO_LOCAL_BIND,
    'socket connect: address() and localAddress/localPort/localFamily while connecting: {} before the connect call, the bound name after it, kept from the first ask until connect': NO_NAME_CONNECTING,
    'socket io: onread with an empty buffer: the read fails with ENOBUFS, close(true), and the peer gets a reset (its bytes were never read)': NO_RESET,
    'server: listen({ fd }) with a descriptor that is not an integer: EINVAL from listen, whatever the descriptor below it is': NO_FD,
    'socket io: resetAndDestroy(): close, the peer gets ECONNRESET': NO_RESET,
    'socket io: the peer resets: ECONNRESET error with syscall read, then close(true)': NO_RESET,
    'socket io: pipeline(socket, sink) fails with the socket error when the peer resets': NO_RESET,
    'socket io: write after the peer closed a Unix socket (allowHalfOpen): EPIPE': NO_SYNC_EPIPE,
    'socket io: bytesWritten after a write the kernel refuses (EPIPE): Buffers and long strings count, short strings do not': NO_SYNC_EPIPE,
    'server: ipv6Only: IPv4 refused, IPv6 accepted': NO_IPV6ONLY,
    'server: listen(handle): a listening peer server handed to the library': NO_HANDLE,
    'socket io: allowHalfOpen true, peer ends first: we keep writing, then end ourselves': LOOP_PHASES,
    'socket io: writing to a peer that closed: the first system call is taken, a later one (IOV_MAX buffers on, or the rest of a long write) fails the write with EPIPE': OWN_WRITES,
    'socket io: destroy(err) right after connect(): \'close\' comes from the close phase, after the setImmediate callbacks queued before it (the handle made at connect closes; the last closed first)': NO_CLOSE_PHASE,
    'socket io: a writev of more than IOV_MAX buffers whose first system call fails (a Unix peer that is gone: EPIPE) fails in write() itself, as a short one does': NO_SYNC_EPIPE,
    "socket io: a writev of more than IOV_MAX buffers on a socket destroyed right after it: its callback comes as the handle closes, after a setImmediate queued before, before 'close' (made in an I/O callback and in a timer)": NO_PENDING_PHASE,
    'socket io: a writev of more than 2048 buffers completes from the next iterations\' pending phases: after their timers, before a peer\'s reads in their poll (made in an I/O callback and in a check-phase callback)': NO_PENDING_PHASE,
    'socket io: a write of nothing is a system call: on a healthy socket it completes, after the peer reset it fails with ECONNRESET (Buffer, string, end(empty))': NO_SYNC_RESET,
    'socket io: end() right after a writev of 1025 to 2048 buffers, as the peer ends: the shutdown is made where libuv completes the writev, so \'finish\' comes before the peer\'s end is read (TCP and Unix)': NO_PENDING_PHASE,
  },
  bun: {
    'socket connect: a lookup that answers an empty list (autoSelectFamily): the TypeError Node throws': ENGINE_MESSAGE,
    'socket io: allowHalfOpen true, peer ends first: we keep writing, then end ourselves': LOOP_PHASES,
    'socket io: writing to a peer that closed: the first system call is taken, a later one (IOV_MAX buffers on, or the rest of a long write) fails the write with EPIPE': OWN_WRITES,
    'socket io: destroy(err) right after connect(): \'close\' comes from the close phase, after the setImmediate callbacks queued before it (the handle made at connect closes; the last closed first)': NO_CLOSE_PHASE,
    'socket io: a writev of more than IOV_MAX buffers whose first system call fails (a Unix peer that is gone: EPIPE) fails in write() itself, as a short one does': NO_SYNC_EPIPE,
    "socket io: a writev of more than IOV_MAX buffers on a socket destroyed right after it: its callback comes as the handle closes, after a setImmediate queued before, before 'close' (made in an I/O callback and in a timer)": NO_PENDING_PHASE,
    'socket io: a writev of more than 2048 buffers completes from the next iterations\' pending phases: after their timers, before a peer\'s reads in their poll (made in an I/O callback and in a check-phase callback)': NO_PENDING_PHASE,
    'socket io: a write of nothing is a system call: on a healthy socket it completes, after the peer reset it fails with ECONNRESET (Buffer, string, end(empty))': NO_SYNC_RESET,
    'socket io: breaking out of async iteration destroys the socket; the peer sees it close': BUN_ASYNC_ITERATOR,
    'socket connect: localAddress 127.0.0.1 with a chosen localPort': NO_LOCAL_BIND,
    'socket connect: localPort already listened on: bind EADDRINUSE': NO_LOCAL_BIND,
    'socket connect: address() and localAddress/localPort/localFamily while connecting: {} before the connect call, the bound name after it, kept from the first ask until connect': NO_NAME_CONNECTING,
    'server: ipv6Only: IPv4 refused, IPv6 accepted': NO_IPV6ONLY,
    'server: listen(handle): a listening peer server handed to the library': NO_HANDLE,
  },
};

/** Runs the runner on `cmd` (args before the runner's own); resolves with its JSON, or an error text. */
function run(cmd: string, pre: string[], lib: string, timeoutMs = 900_000, script = runner, filter?: string): Promise<Result | string> {
  return new Promise((resolve) => {
    // The runtime's own default backend, whatever this process was asked to use.
    const { WASINET_BACKEND: _ignored, ...env } = process.env;
    const child = spawn(cmd, [...pre, script, ...(lib ? [lib] : []), ...(filter !== undefined ? [filter] : [])], {
      cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
      // Deno's caches go under build/, so a machine without a usable home directory runs it too.
      env: { ...env, DENO_DIR: join(root, 'build/.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as Result);
      } catch {
        resolve(`exit ${code}: ${err.slice(-2000)}`);
      }
    });
  });
}

/** The runtime's command line, or why it cannot run here. */
function locate(name: 'deno' | 'bun'): { cmd: string; pre: string[] } | string {
  const cmd = join(root, 'node_modules/.bin', name);
  if (!existsSync(cmd)) return `${name} is not installed (npm install brings the pinned devDependency)`;
  const v = spawnSync(cmd, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  if (v.status !== 0) return `${name} does not start here: ${(v.stderr || v.error?.message || '').slice(0, 300)}`;
  return { cmd, pre: name === 'deno' ? ['run', '-A'] : [] };
}

function passing(expected: Result, actual: Result | string): string[] {
  if (typeof actual === 'string') return [];
  return Object.keys(expected).filter((k) => {
    const e = expected[k], a = actual[k];
    return Array.isArray(e) && Array.isArray(a) && compareLogs(e, a) === null;
  });
}

const expected = await run(process.execPath, [], 'builtin');

/**
 * A scenario's node:net log from a run of its own. The reference runs every scenario once, in
 * one process, while the other runs load the machine: a scenario whose timing shows in its log
 * can come out otherwise there now and then (seen once: "async iteration over the socket …",
 * with every runtime then "differing" from it). A log that differs from the reference is
 * compared with this one before it counts as different.
 */
const again = new Map<string, Promise<string[] | null>>();
function referenceAgain(key: string): Promise<string[] | null> {
  let p = again.get(key);
  if (p === undefined) {
    const name = key.slice(key.indexOf(': ') + 2);
    p = run(process.execPath, [], 'builtin', 120_000, runner, name).then((r) => {
      const log = typeof r === 'object' ? r[key] : undefined;
      return Array.isArray(log) ? log : null;
    });
    again.set(key, p);
  }
  return p;
}

/** Scenario `key` run alone on `cmd` with `lib`: its log, or null. */
async function scenarioAlone(cmd: string, pre: string[], lib: string, key: string): Promise<string[] | null> {
  const r = await run(cmd, pre, lib, 120_000, runner, key.slice(key.indexOf(': ') + 2));
  const log = typeof r === 'object' ? r[key] : undefined;
  return Array.isArray(log) ? log : null;
}

/**
 * Scenario `key` of `actual` differs from node:net's: the first reference and a second run of its
 * own both differ, and so does a second run of the library's (`again`: the scenario alone), which
 * the whole run's load can have made come out otherwise as it can the reference's. A real
 * difference comes out in every run.
 */
async function differs(key: string, actual: Result, again?: () => Promise<string[] | null>): Promise<string | null> {
  const a = actual[key];
  const e = (expected as Result)[key];
  if (!Array.isArray(a) || !Array.isArray(e)) return 'not run';
  const first = compareLogs(e, a);
  if (first === null) return null;
  const second = await referenceAgain(key);
  if (second !== null && compareLogs(second, a) === null) {
    console.log(`${key}: equal to a second node:net run (the first reference run differed)`);
    return null;
  }
  const b = again === undefined ? null : await again();
  if (b !== null && (compareLogs(e, b) === null || (second !== null && compareLogs(second, b) === null))) {
    console.log(`${key}: a second run of the library's, alone, equals node:net's (the first differed: ${first.slice(0, 300)})`);
    return null;
  }
  return first;
}
const nodePortable = run(process.execPath, [], '', 120_000, portable);

test('the portable check on Node: the node backend, equal bytes on the sim, TCP and Unix', async () => {
  const r = await nodePortable as unknown as Record<string, string>;
  assert.equal(r.backend, 'node');
  for (const k of ['sim', 'tcp', 'unix', 'record']) assert.match(r[k], /^equal close false,connect,end,finish/);
  assert.match(r.record, / truncated false replay identical every input$/);
});
const table: Record<string, { scenarios: number; builtin: number; wasinet: number; cannot: number }> = {};

test('the reference run: every scenario on node:net on Node', () => {
  assert.equal(typeof expected, 'object', String(expected));
  const logs = Object.values(expected as Result);
  assert.ok(logs.length >= 100, `${logs.length} scenarios`);
  for (const [k, v] of Object.entries(expected as Result)) assert.ok(Array.isArray(v) && v.length > 0, `${k}: ${JSON.stringify(v).slice(0, 300)}`);
});

// The same measure on Node: wasinet on both sides (the runtimes' runs use wasinet as the peer).
const nodeWasinet = await run(process.execPath, [], 'wasinet');
test('node: wasinet on both sides logs what node:net logs, every scenario', async () => {
  assert.equal(typeof nodeWasinet, 'object', String(nodeWasinet));
  const exp = expected as Result;
  const differing: string[] = [];
  for (const k of Object.keys(exp)) {
    if (await differs(k, nodeWasinet as Result, () => scenarioAlone(process.execPath, [], 'wasinet', k)) !== null) differing.push(k);
  }
  assert.deepEqual(differing, []);
});
if (typeof expected === 'object') {
  const n = Object.keys(expected).length;
  table.node = { scenarios: n, builtin: n, wasinet: passing(expected, nodeWasinet).length, cannot: 0 };
}

for (const name of ['deno', 'bun'] as const) {
  const where = locate(name);
  if (typeof where === 'string') {
    test(`${name}: the differential scenarios`, { skip: where }, () => {});
    console.log(`# skipped ${name}: ${where}`);
    continue;
  }
  test(`${name}: destroy() while a write waits for a peer that never reads: 'close' comes, and the process then ends by itself`, { timeout: 60_000 }, async () => {
    // The peer: accepts and never reads, so the kernel's buffers fill and the write waits.
    const held: import('node:net').Socket[] = [];
    const server = (await import('node:net')).createServer((s) => { held.push(s); s.pause(); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      const t0 = Date.now();
      const child = spawn(where.cmd, [...where.pre, lingerScript, String(port)], {
        cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DENO_DIR: join(root, 'build/.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { err += d; });
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('close', (c) => { clearTimeout(timer); resolve(c); });
      });
      const ms = Date.now() - t0;
      assert.equal(code, 0, `exit ${code} after ${ms} ms: ${out} ${err.slice(-1000)}`);
      const r = JSON.parse(out.trim()) as { close: boolean; callback: string; destroyed: boolean };
      assert.deepEqual({ close: r.close, destroyed: r.destroyed }, { close: false, destroyed: true });
      assert.ok(ms < 20_000, `the process took ${ms} ms to end`);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
  // Bun's server-side TLSSocket takes only Bun's own sockets (README): there the server is Bun's node:net.
  const starttlsMode = name === 'bun' ? 'client' : 'wasinet';
  test(`${name}: STARTTLS with the runtime's node:tls on wasinet sockets read with setEncoding (${starttlsMode === 'wasinet' ? 'both sides' : 'the client'})`, { timeout: 60_000 }, async () => {
    const r = spawnSync(where.cmd, [...where.pre, starttlsScript, starttlsMode], {
      cwd: root, encoding: 'utf8', timeout: 30_000,
      env: { ...process.env, DENO_DIR: join(root, 'build/.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    });
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stdout} ${String(r.stderr).slice(-1000)}`);
    const both = starttlsMode === 'wasinet'; // both sides wasinet: each TLS socket's addresses are checked
    assert.deepEqual(JSON.parse(r.stdout.trim()), {
      client: ['client plain "220 hello\\r\\n"', 'client plain "220 go ahead\\r\\n"', 'client secure true',
        ...(both ? ['client addresses true'] : []), 'client tls bye ping'],
      server: ['server plain "STARTTLS\\r\\n"', 'server secure', 'server addresses true', 'server tls ping'],
    });
  });
  test(`${name}: an application recorded on the runtime's sockets replays offline with the core in the recorded state (a write per setImmediate)`, { timeout: 60_000 }, async () => {
    const r = spawnSync(where.cmd, [...where.pre, dripScript], {
      cwd: root, encoding: 'utf8', timeout: 30_000,
      env: { ...process.env, DENO_DIR: join(root, 'build/.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    });
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stdout} ${String(r.stderr).slice(-1000)}`);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { reply: 'got 40', replays: ['ok', 'ok', 'ok'] });
  });
  const here = await run(where.cmd, where.pre, '', 120_000, portable) as unknown as Record<string, string> | string;
  test(`${name}: wasinet loads, runs on a simulated network and on the runtime's own sockets`, async () => {
    const reference = await nodePortable;
    assert.equal(typeof here, 'object', String(here));
    assert.deepEqual(here, { ...(reference as object), backend: name });
  });
  const wasinet = await run(where.cmd, where.pre, 'wasinet');
  const builtin = await run(where.cmd, where.pre, 'builtin');
  const exp = expected as Result;
  const keys = Object.keys(exp);
  const known = CANNOT_PASS[name];

  test(`${name}: the runner ran every scenario`, () => {
    assert.equal(typeof wasinet, 'object', `wasinet on ${name}: ${String(wasinet)}`);
    assert.equal(typeof builtin, 'object', `node:net on ${name}: ${String(builtin)}`);
  });
  for (const k of keys) {
    const reason = known[k];
    test(`${name} wasinet ${k}`, { skip: reason ? `cannot pass on ${name}: ${reason}` : false }, async () => {
      assert.equal(typeof wasinet, 'object');
      const a = (wasinet as Result)[k];
      assert.ok(Array.isArray(a), `the scenario failed: ${(a as { error?: string } | undefined)?.error ?? 'not run'}`);
      const diff = await differs(k, wasinet as Result, () => scenarioAlone(where.cmd, where.pre, 'wasinet', k));
      assert.equal(diff, null, diff ?? '');
    });
  }
  const ok = passing(exp, wasinet);
  const builtinOk = passing(exp, builtin);
  table[name] = { scenarios: keys.length, builtin: builtinOk.length, wasinet: ok.length, cannot: Object.keys(known).length };
  for (const k of ok) if (known[k]) console.log(`# ${name}: listed as cannot pass, but passed: ${k}`);
  console.log(`# ${name}: wasinet ${ok.length}/${keys.length}, built-in node:net ${builtinOk.length}/${keys.length}`);
}

test('every scenario listed as cannot pass exists', () => {
  if (typeof expected !== 'object') return;
  for (const list of Object.values(CANNOT_PASS)) for (const k of Object.keys(list)) assert.ok(k in expected, k);
});

// The numbers for the README's table.
if (Object.keys(table).length > 0) {
  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(join(root, 'build/runtimes-table.json'), JSON.stringify(table, null, 2) + '\n');
  console.log('# runtime | scenarios | built-in node:net | wasinet | cannot pass');
  for (const [name, r] of Object.entries(table)) console.log(`# ${name} | ${r.scenarios} | ${r.builtin} | ${r.wasinet} | ${r.cannot}`);
}
