// Consumers: @grpc/grpc-js, unmodified, under the register hook (tests/host/apps/grpc-app.ts).
// grpc-js's client connects with `net` (and `tls.connect({ socket })`), its server is an http2
// server (h2c, or http2.createSecureServer). The same program logs the same lines on node:net, under
// `--import` and `--require wasinet/register`, recorded (the servers then listen through wasinet,
// TLS sessions below the core: the trace has the messages in the clear) and replayed offline twice;
// with the server and the client in two processes, each process replays alone, with no peer.
// Skipped (with the reason) when @grpc/grpc-js is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sockPath } from './helpers.js';

const root = join(import.meta.dirname, '..', '..', '..');
const app = join(root, 'build/tests/host/apps/grpc-app.js');
const hook = ['--import', 'wasinet/register'];

function missing(): string | null {
  try {
    import.meta.resolve('@grpc/grpc-js');
    return null;
  } catch {
    return 'not installed: @grpc/grpc-js';
  }
}

function baseEnv(more: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TLS_CA: join(root, 'tests/fixtures/localhost-cert.pem'), TLS_KEY: join(root, 'tests/fixtures/localhost-key.pem'), ...more };
  delete env.WASINET_RECORD;
  delete env.WASINET_REPLAY;
  delete env.WASINET_TLS;
  return env;
}

/** Runs the program to its end; fails the test if it does not exit with 0. */
function run(args: string[], env: NodeJS.ProcessEnv): { out: string; err: string } {
  const r = spawnSync(process.execPath, [...args, app], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${args.join(' ')} ${env.WASINET_RECORD ?? ''}${env.WASINET_REPLAY ?? ''}: ${r.stdout}\n${r.stderr}`);
  return { out: r.stdout, err: r.stderr };
}

function coreReplay(file: string): void {
  const core = spawnSync(process.execPath, [join(root, 'bin/wasinet.js'), 'replay', file], { encoding: 'utf8' });
  assert.match(core.stdout, /replay identical/, core.stdout + core.stderr);
}

const calls = (side: string): string[] => [
  `${side}echo: echo hello head x-served-by=probe trailer x-echoed=probe-client`,
  `${side}echo fail: NOT_FOUND "the thing is not here" x-reason=no such thing x-detail-bin=000102ff`,
  `${side}big: 4194304 59f41f46fe52079f`,
];
const streams = (side: string): string[] => [
  `${side}count: 0:item 0, 1:item 1, 2:item 2, 3:item 3, 4:item 4, status OK x-count=5`,
  `${side}sum: 55 of 10`,
  `${side}chat: re: m0, re: m1, re: m2, re: m3`,
];

test('--import wasinet/register: @grpc/grpc-js server and client in one process, h2c and TLS, unary, streams, 4 MiB, an error status with metadata, a deadline exceeded: the same lines on node:net, hooked, recorded, replayed three times', { timeout: 120_000 }, (t) => {
  const why = missing();
  if (why !== null) { t.skip(why); return; }
  // The deadline call arms two timers a millisecond apart (the client's deadline, and the
  // server's from the call's grpc-timeout), whose runs met the replayed events in another order
  // while the program's timers ran on the wall clock in a replay; they now run where they ran
  // (docs/replay.md, "The program's timers").
  const env = baseEnv();
  const plain = run([], env);
  const server = (kind: string): string[] => [
    `${kind} server echo hello from=probe-client`, `${kind} server echo fail from=probe-client`,
    `${kind} server big got 4194304 07210bedfa9f29d0`, `${kind} server slow 5000`, `${kind} server slow cancelled=true`,
    `${kind} server count 5`, `${kind} server sum of 10 = 55`, `${kind} server chat 4 messages`,
  ];
  const slow = (side: string): string => `${side}slow: DEADLINE_EXCEEDED "Deadline exceeded"`;
  const client = (side: string): string[] => { const c = calls(side); return [...c, slow(side), ...streams(side)]; };
  assert.equal(plain.out, [
    ...client('h2c client '), ...server('h2c'),
    ...client('tls client '), ...server('tls'),
    'done', ''].join('\n'));
  assert.equal(run(hook, env).out, plain.out);
  assert.equal(run(['--require', 'wasinet/register'], env).out, plain.out);
  const file = sockPath('grpc').replace(/\.sock$/, '.trace');
  try {
    assert.equal(run(hook, { ...env, WASINET_RECORD: file }).out, plain.out);
    // The messages in the clear (h2c's, and TLS's: the sessions ran below the core).
    const trace = readFileSync(file);
    for (const text of ['{"i":3,"text":"item 3"}', '{"text":"re: m2"}', '{"v":7}', '{"text":"echo hello"}']) {
      assert.ok(trace.includes(Buffer.from(text)), `the trace has the plaintext ${text}`);
    }
    for (let i = 0; i < 3; i++) {
      const again = run(hook, { ...env, WASINET_REPLAY: file });
      assert.equal(again.out, plain.out);
      assert.match(again.err, /wasinet replay: the application followed the recording/);
    }
    coreReplay(file);
  } finally {
    rmSync(file, { force: true });
  }
});

/** The server role (it prints `PORT n`, then its lines once a client called Shutdown) and a client for it. */
async function pair(args: string[], env: NodeJS.ProcessEnv, serverTrace?: string, clientTrace?: string): Promise<{ server: string; client: string; port: string }> {
  const server = spawn(process.execPath, [...args, app], { cwd: root, env: { ...env, GRPC_ROLE: 'server', ...(serverTrace ? { WASINET_RECORD: serverTrace } : {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  server.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  const port = await new Promise<string>((resolve, reject) => {
    server.stdout.on('data', (d) => {
      out += d;
      const m = /^PORT (\d+)$/m.exec(out);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`the server exited (${code}) before it listened: ${out}\n${err}`)));
  });
  const client = spawnSync(process.execPath, [...args, app], { cwd: root, env: { ...env, GRPC_ROLE: 'client', GRPC_PORT: port, ...(clientTrace ? { WASINET_RECORD: clientTrace } : {}) }, encoding: 'utf8', timeout: 60_000 });
  if (client.status !== 0) server.kill();
  assert.equal(client.status, 0, `client ${args.join(' ')}: ${client.stdout}\n${client.stderr}`);
  assert.equal(await exited, 0, `server ${args.join(' ')}: ${out}\n${err}`);
  return { server: out.replace(/^PORT .*\n/m, ''), client: client.stdout, port };
}

for (const secure of [false, true]) {
  test(`--import wasinet/register: @grpc/grpc-js server and client in two processes (${secure ? 'TLS' : 'h2c'}), with a deadline exceeded: the same lines on node:net, hooked and recorded; each process replays alone, twice`, { timeout: 120_000 }, async (t) => {
    const why = missing();
    if (why !== null) { t.skip(why); return; }
    const env = baseEnv({ GRPC_TLS: secure ? '1' : '0' });
    const plain = await pair([], env);
    assert.equal(plain.client, [...calls('client '), 'client slow: DEADLINE_EXCEEDED "Deadline exceeded"', ...streams('client '), 'client done', ''].join('\n'));
    assert.equal(plain.server, [
      'server echo hello from=probe-client', 'server echo fail from=probe-client', 'server big got 4194304 07210bedfa9f29d0',
      'server slow 5000', 'server slow cancelled=true', 'server count 5', 'server sum of 10 = 55', 'server chat 4 messages',
      'server shutdown', 'server done', ''].join('\n'));
    const hooked = await pair(hook, env);
    assert.equal(hooked.server, plain.server);
    assert.equal(hooked.client, plain.client);
    const name = `grpc-${secure ? 'tls' : 'h2c'}`;
    const serverTrace = sockPath(`${name}-server`).replace(/\.sock$/, '.trace');
    const clientTrace = sockPath(`${name}-client`).replace(/\.sock$/, '.trace');
    try {
      const recorded = await pair(hook, env, serverTrace, clientTrace);
      assert.equal(recorded.server, plain.server);
      assert.equal(recorded.client, plain.client);
      for (const file of [serverTrace, clientTrace]) {
        const trace = readFileSync(file);
        for (const text of ['{"i":3,"text":"item 3"}', '{"text":"re: m2"}', '{"v":7}']) assert.ok(trace.includes(Buffer.from(text)), `${file} has the plaintext ${text}`);
      }
      // No peer now: the server on its recorded port with no client, the client with no server.
      for (let i = 0; i < 2; i++) {
        const s = run(hook, { ...env, GRPC_ROLE: 'server', WASINET_REPLAY: serverTrace });
        assert.equal(s.out.replace(/^PORT .*\n/m, ''), plain.server);
        assert.match(s.err, /wasinet replay: the application followed the recording/);
        const c = run(hook, { ...env, GRPC_ROLE: 'client', GRPC_PORT: recorded.port, WASINET_REPLAY: clientTrace });
        assert.equal(c.out, plain.client);
        assert.match(c.err, /wasinet replay: the application followed the recording/);
      }
      coreReplay(serverTrace);
      coreReplay(clientTrace);
    } finally {
      rmSync(serverTrace, { force: true });
      rmSync(clientTrace, { force: true });
    }
  });
}
