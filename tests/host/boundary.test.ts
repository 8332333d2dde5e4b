// The boundary rules: the core imports nothing but its host module and WASI's diagnostics;
// only the node backend imports node:net; host/net starts no timers of its own; the generated
// ABI files match abi/abi.mjs; the package loads synchronously with import and require.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function filesUnder(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, ext));
    else if (p.endsWith(ext)) out.push(p);
  }
  return out;
}

test('the core imports only wasinet.out and WASI fd_write/proc_exit: no clock, no random source', () => {
  const module = new WebAssembly.Module(readFileSync(join(root, 'build/release.wasm')));
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`).sort();
  assert.deepEqual(imports, ['wasi_snapshot_preview1.fd_write', 'wasi_snapshot_preview1.proc_exit', 'wasinet.out']);
});

test('only the node backends (host/backend/node*.ts) import node:net (type-only imports of its declarations aside)', () => {
  const offenders = filesUnder(join(root, 'host'), '.ts')
    .filter((f) => /from ['"](node:)?net['"]|require\(['"](node:)?net['"]\)|import\(['"](node:)?net['"]\)/.test(
      readFileSync(f, 'utf8').replace(/\b(import|export)\s+type\b[\s\S]*?from\s+['"][^'"]+['"]/g, '')))
    .map((f) => f.slice(root.length));
  assert.deepEqual(offenders.sort(), ['host/backend/node-common.ts', 'host/backend/node-public.ts', 'host/backend/node.ts']);
});

test('host/net starts no timers: timeouts belong to the core, the wake-up to the backend', async () => {
  // Watch every timer started while a socket connects, idles out and exchanges data.
  const { default: net } = await import('../../host/index.js');
  const callers: string[] = [];
  const real = { setTimeout: globalThis.setTimeout, setInterval: globalThis.setInterval };
  const watch = (name: 'setTimeout' | 'setInterval') => function (this: unknown, ...args: unknown[]) {
    const frame = (new Error().stack ?? '').split('\n').slice(2).find((l) => l.includes('/build/host/')) ?? '';
    callers.push(frame);
    return (real[name] as Function).apply(this, args);
  };
  globalThis.setTimeout = watch('setTimeout') as typeof setTimeout;
  globalThis.setInterval = watch('setInterval') as typeof setInterval;
  try {
    const server = net.createServer((s: InstanceType<typeof net.Socket>) => { s.setTimeout(20); s.on('timeout', () => s.end('bye')); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const c = net.connect((server.address() as { port: number }).port, '127.0.0.1');
    c.setTimeout(1000);
    c.resume();
    await new Promise((r) => c.on('close', r));
    await new Promise((r) => server.close(r));
  } finally {
    globalThis.setTimeout = real.setTimeout;
    globalThis.setInterval = real.setInterval;
  }
  const fromHost = callers.filter((f) => f.includes('/build/host/'));
  assert.ok(fromHost.length > 0, 'the backend arms its one wake-up timer');
  assert.deepEqual(fromHost.filter((f) => !f.includes('/build/host/backend/')), []);
});

test('the generated ABI files are up to date with abi/abi.mjs', () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts/gen-abi.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('require("wasinet") gives a ready module synchronously (CommonJS)', () => {
  const r = spawnSync(process.execPath, ['-e', `
    const net = require('wasinet');
    if (typeof net.createServer !== 'function' || net.isIP('::1') !== 6) process.exit(2);
    const s = net.createServer().listen(0, '127.0.0.1', () => { s.close(); console.log('ok'); });
  `], { cwd: root, encoding: 'utf8' });
  assert.equal(r.stdout.trim(), 'ok', r.stderr);
});

test('import "wasinet" needs no top-level await', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import net, { Socket, Server } from 'wasinet';
    console.log(typeof net.connect, typeof Socket, typeof Server);
  `], { cwd: root, encoding: 'utf8' });
  assert.equal(r.stdout.trim(), 'function function function', r.stderr);
});

// Every deferral host/net makes, and why: each mirrors a tick or phase on which node:net itself
// emits (so events come in Node's order), or is the end-of-turn flush of the core's write batch.
// A new one fails this test until it is listed here with its reason.
const DEFERRALS: Record<string, [pattern: RegExp, count: number, why: string][]> = {
  'server.ts': [
    [/process\.nextTick/g, 9, "Node emits 'listening', 'close', listen errors, the aborted listen and getConnections' callback on the next tick (also when it added the counts of processes it sent sockets to, or one of them failed)"],
  ],
  'socket-connect.ts': [
    [/process\.nextTick/g, 7, 'Node connects to an address literal on the next tick and destroys with a lookup error on the next tick'],
  ],
  'socket-onread.ts': [
    [/process\.nextTick/g, 1, 'bytes held back when an onread callback paused come on the tick after the restart, as a kernel read would'],
  ],
  'socket.ts': [
    [/setImmediate/g, 5, "where the backend has no closePhase or pendingPhase (Deno, Bun, the sim), in their place: a close with no transport to wait for, which Node emits from the loop's close phase; a writev of more than 2·IOV_MAX buffers, which libuv sends 1024 buffers a poll phase and completes after the last (writevIterations); a write whose later system call failed, which libuv fails from its pending phase (#writeDone); and connect() on a connected socket, whose second 'connect' Node's connect request completes from a later iteration of the loop"],
    [/process\.nextTick/g, 7, "Node's destroy emits 'close' (and a failed write's callback) on the next tick; a writev of 1025 to 2048 buffers completes after the ticks queued before it (below)"],
    [/queueMicrotask/g, 1, 'a writev of 1025 to 2048 buffers where the backend has no pendingPhase: libuv sends them in two calls at once and completes it from its pending callbacks, after the writing callback\'s ticks and microtasks, before the check phase (IOV_MAX)'],
  ],
  'wrapped.ts': [
    [/process\.nextTick/g, 2, "bytes a socket held before tls wrapped it: tls's own initRead takes them on the next tick; what it left goes to the wrapper on the tick after"],
  ],
  'tls.ts': [
    [/process\.nextTick/g, 1, "renegotiate()'s callback gets its refusal on the next tick, as a callback is called back (never from within the call)"],
  ],
  'stack.ts': [
    [/\.then\(/g, 1, "the core's batch of small writes leaves at the end of the turn (FLUSH_LATER): a microtask"],
    [/queueMicrotask/g, 1, "an exception of that end-of-turn flush is thrown from a microtask of its own, as from queueMicrotask"],
  ],
};

test('host/net defers only where node:net does (each nextTick, setImmediate and microtask is listed with its reason)', () => {
  const dir = join(root, 'host/net');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const kind of [/process\.nextTick/g, /setImmediate/g, /queueMicrotask/g, /\.then\(/g]) {
      const found = (text.match(kind) ?? []).length;
      const listed = (DEFERRALS[file] ?? []).find(([p]) => p.source === kind.source);
      assert.equal(found, listed ? listed[1] : 0, `${file}: ${kind.source} used ${found} times; list each with its reason`);
    }
  }
});
