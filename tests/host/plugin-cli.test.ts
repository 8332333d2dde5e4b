// `wasinet run`: the done-when of the plugins issue (the echo plugin serving a node:net client
// byte-exactly, 1 MiB each way with half-close, under --allow-listen), SIGINT, --sim, --record,
// and the command line's errors: --help exits 0, a bad flag or a missing file is one line and
// exit status 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import net from 'node:net';
import { replay } from '../../host/index.js';
import { freePort, sendPattern, hashUntilEnd, patternHash, sockPath, until } from './helpers.js';
import { cli, plugins, root } from './plugin-util.js';

const echo = join(plugins, 'echo.wasm');
const MiB = 1024 * 1024;

function wasinet(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
}

/** Starts `wasinet run …`; resolves once its stdout matches `ready`. */
async function start(args: string[], ready: RegExp): Promise<{ child: ChildProcess; out: () => string; err: () => string; code: Promise<number | null> }> {
  const child = spawn(process.execPath, [cli, 'run', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  const code = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  let exited = false;
  void code.then(() => { exited = true; });
  await until(() => ready.test(out) || exited, 15_000, `wasinet run to print ${ready}`);
  return { child, out: () => out, err: () => err, code };
}

test('wasinet run echo.wasm --allow-listen 127.0.0.1:PORT -- PORT serves a node:net client: 1 MiB each way, half-close; SIGINT ends it', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const run = await start([echo, '--allow-listen', `127.0.0.1:${port}`, '--', String(port)], /listening/);
  assert.equal(run.out(), `echo listening on 127.0.0.1:${port}\n`);
  const c = net.connect(port, '127.0.0.1');
  const got = hashUntilEnd(c);
  await sendPattern(c, 42, MiB);
  assert.deepEqual(await got, { hash: patternHash(42, MiB), bytes: MiB });
  await new Promise((r) => c.once('close', r));
  run.child.kill('SIGINT');
  assert.equal(await run.code, 130);
  assert.equal(run.err(), '');
});

test('wasinet run without --allow-listen: the guest gets EACCES, exits 1 with a clear reason', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const run = await start([echo, '--', String(port)], /EACCES|listening/);
  if (!/EACCES/.test(run.out())) run.child.kill('SIGINT');
  assert.equal(await run.code, 1);
  assert.equal(run.out(), `echo: listen EACCES 127.0.0.1:${port}\n`);
  assert.equal(run.err(), 'wasinet run: plugin ended (exit): exited with status 1\n');
});

test('wasinet run --sim: line-client alone on a simulated network is refused, deterministically', { timeout: 60_000 }, () => {
  const runs = [0, 1].map(() => wasinet('run', join(plugins, 'line-client.wasm'), '--sim', '--seed', '7', '--allow-connect', '127.0.0.1:7', '--', '127.0.0.1:7', 'hi'));
  for (const r of runs) {
    assert.equal(r.status, 1);
    assert.equal(r.stdout, 'line-client: connect ECONNREFUSED 127.0.0.1:7\n');
    assert.equal(r.stderr, 'wasinet run: plugin ended (exit): exited with status 1\n');
  }
});

test('wasinet run --record FILE: the trace replays identically with wasinet replay', { timeout: 60_000 }, async () => {
  const file = sockPath('cli').replace(/\.sock$/, '.trace');
  const port = await freePort();
  const run = await start([echo, '--allow-listen', `127.0.0.1:${port}`, '--record', file, '--', String(port)], /listening/);
  const c = net.connect(port, '127.0.0.1');
  const got = hashUntilEnd(c);
  await sendPattern(c, 9, 64 * 1024);
  assert.equal((await got).bytes, 64 * 1024);
  run.child.kill('SIGINT');
  assert.equal(await run.code, 130);
  assert.ok(replay(file).ok);
  const r = wasinet('replay', file);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^replay identical/);
});

test('wasinet run --help prints the usage and exits 0', () => {
  const r = wasinet('run', '--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^usage: wasinet run PLUGIN\.wasm \[options\] \[-- plugin args\]/);
  assert.match(r.stdout, /--allow-connect HOST:PORTS/);
  assert.equal(r.stderr, '');
});

test('wasinet run: a bad flag, a bad value, a missing file or a non-guest is one line and exit status 2', () => {
  const cases: [string[], string][] = [
    [['run', echo, '--bogus'], 'wasinet run: unknown option --bogus (see wasinet run --help)\n'],
    [['run', echo, '--allow-listen', '127.0.0.1'], 'wasinet run: --allow-listen 127.0.0.1: expected HOST:PORTS (a port, a range a-b, or *)\n'],
    [['run', echo, '--limit', 'sockets'], 'wasinet run: --limit sockets: expected NAME=NUMBER\n'],
    [['run', echo, '--limit', 'files=3'], 'wasinet run: --limit files: unknown limit (known: cpuMs, memory, sockets, listeners, socketBuffer, stackBuffer, sent, received, coreMemory)\n'],
    [['run', echo, '--seed', '3'], 'wasinet run: --seed needs --sim\n'],
    [['run', echo, '--record'], 'wasinet run: --record needs a value\n'],
    [['run'], 'wasinet run: no plugin file given (see wasinet run --help)\n'],
    [['run', 'missing.wasm'], 'wasinet run: missing.wasm: no such file\n'],
    [['run', 'package.json'], /^wasinet run: package\.json: not a valid WebAssembly module \(.*\)\n$/ as unknown as string],
  ];
  for (const [args, stderr] of cases) {
    const r = wasinet(...args);
    assert.equal(r.status, 2, args.join(' '));
    if (typeof stderr === 'string') assert.equal(r.stderr, stderr);
    else assert.match(r.stderr, stderr);
    assert.equal(r.stdout, '');
  }
});
