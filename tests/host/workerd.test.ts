// wasinet in workerd (Cloudflare's runtime), on the workerd backend (connect() from
// 'cloudflare:sockets'): the client scenarios of tests/runtimes/client-scenarios.ts run inside the
// workerd binary (the pinned devDependency) against node:net servers in this process, and each
// log must equal the one node:net gives as the client, run here on the same scenario. What
// workerd cannot do (listen, Unix sockets) must fail as docs/embedding.md says.
//
// Setup: the worker (tests/runtimes/workerd-worker.ts, the host's build) is bundled with esbuild
// into a temporary directory, with a three-line entry that imports build/release.wasm and
// build/wasmer-wasi.wasm as compiled modules and calls configure() — workerd compiles no Wasm
// from bytes — and workerd serves it on a free loopback port, its outbound network open to
// loopback. A workerd that is missing or cannot start here skips every test, saying why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientScenarios, runClient, type ClientScenario } from '../runtimes/client-scenarios.js';
import { Log, normalize, compareLogs } from './diff/harness.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const workerdBin = join(root, 'node_modules/.bin/workerd');
// The compatibility date workerd 1.20261123 supports; node:fs, node:os … exist from 2025-09.
const COMPATIBILITY_DATE = '2026-08-01';

/** Why workerd cannot run here, or null. */
function unavailable(): string | null {
  if (!existsSync(workerdBin)) return 'workerd is not installed (npm install brings the pinned devDependency)';
  const v = spawnSync(workerdBin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (v.status !== 0) return `workerd does not start here: ${(v.stderr || v.error?.message || `exit ${v.status}`).slice(0, 300)}`;
  return null;
}

let why = unavailable();
let dir = '';
let child: ChildProcess | null = null;
let base = '';
let stderr = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = nodeNet.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function bundle(): Promise<void> {
  dir = mkdtempSync(join(process.env.WASINET_TEST_TMP ?? tmpdir(), 'wasinet-workerd-'));
  copyFileSync(join(root, 'build/release.wasm'), join(dir, 'release.wasm'));
  copyFileSync(join(root, 'build/wasmer-wasi.wasm'), join(dir, 'wasmer-wasi.wasm'));
  const b = (p: string) => JSON.stringify(join(root, 'build', p));
  writeFileSync(join(dir, 'entry.js'), [
    "import core from './release.wasm';",
    "import wasi from './wasmer-wasi.wasm';",
    `import net, { configure, createStack } from ${b('host/workerd.js')};`,
    `import { stackOf } from ${b('host/net/create.js')};`,
    `import { handler } from ${b('tests/runtimes/workerd-worker.js')};`,
    'configure({ core, wasi });',
    'export default handler(net, () => stackOf(createStack()).backend.kind);',
    '',
  ].join('\n'));
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(dir, 'entry.js')], outfile: join(dir, 'worker.js'), bundle: true, format: 'esm',
    platform: 'node', // node: builtins stay imports (workerd's nodejs_compat has them)
    external: ['*.wasm', 'cloudflare:*'], logLevel: 'error',
  });
}

function config(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The worker's outbound connections: loopback and private addresses allowed.
    (name = "network", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "release.wasm", wasm = embed "release.wasm"),
    (name = "wasmer-wasi.wasm", wasm = embed "wasmer-wasi.wasm"),
  ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  compatibilityFlags = ["nodejs_compat"],
  globalOutbound = "network",
);
`;
}

/** GET `path` on the worker; its JSON, or throws with workerd's stderr. */
async function get(path: string, ms = 30_000): Promise<unknown> {
  const res = await fetch(base + path, { signal: AbortSignal.timeout(ms) });
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`workerd answered ${res.status}: ${text.slice(0, 500)}\nworkerd stderr:\n${stderr.slice(-2000)}`);
  }
}

async function start(): Promise<void> {
  await bundle();
  const port = await freePort();
  writeFileSync(join(dir, 'config.capnp'), config(port));
  child = spawn(workerdBin, ['serve', join(dir, 'config.capnp')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => { stderr += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  base = `http://127.0.0.1:${port}`;
  const until = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode}): ${stderr.slice(-1500)}`);
    try {
      await get('/backend', 2_000);
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`workerd did not answer in 20 s: ${String(err)}\n${stderr.slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

before(async () => {
  if (!why) {
    try {
      await start();
    } catch (err) {
      why = `workerd cannot run the worker here: ${String((err as Error)?.message ?? err).slice(0, 1500)}`;
    }
  }
  if (why) console.log(`skipped workerd: ${why}`);
}, { timeout: 60_000 });

after(() => {
  if (process.env.WASINET_WORKERD_LOGS) console.log(`workerd's output:\n${stderr}`);
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Run = { client: string[] | { error: string }; server: string[]; ms: number };

/** One run of `s`: the server here on node:net, the client on node:net here or in workerd. */
async function run(s: ClientScenario, where: 'node' | 'workerd'): Promise<Run> {
  const slog = new Log();
  const side = await s.serve(nodeNet, slog);
  const t0 = performance.now();
  const client = where === 'node'
    ? await runClient(s, nodeNet, side.port)
    : await get(`/?scenario=${clientScenarios.indexOf(s)}&port=${side.port}`, (s.timeout ?? 10_000) + 5_000) as Run['client'];
  const ms = performance.now() - t0;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([side.done(), new Promise((r) => { timer = setTimeout(r, 5_000); })]);
  clearTimeout(timer);
  return { client, server: normalize(slog.entries, [side.port]), ms };
}

const timings: string[] = [];

test('workerd: the default stack uses the workerd backend', { skip: why ?? false }, async (t) => {
  if (why) return t.skip(why);
  assert.deepEqual(await get('/backend'), { backend: 'workerd' });
});

for (const s of clientScenarios) {
  test(`workerd: ${s.name}`, { timeout: (s.timeout ?? 10_000) * 2 + 10_000 }, async (t) => {
    if (why) return t.skip(why);
    const actual = await run(s, 'workerd');
    assert.ok(Array.isArray(actual.client), `the scenario failed in workerd: ${(actual.client as { error: string }).error}\n${stderr.slice(-1500)}`);
    if (s.only) {
      assert.deepEqual(actual.client, s.only);
      return;
    }
    const expected = await run(s, 'node');
    assert.ok(Array.isArray(expected.client), `the scenario failed on node:net: ${(expected.client as { error: string }).error}`);
    const diff = compareLogs(expected.client as string[], actual.client as string[]);
    assert.equal(diff, null, `client: ${diff}`);
    if (process.env.WASINET_WORKERD_LOGS) console.log([...actual.client as string[], ...actual.server].join('\n'));
    const sdiff = compareLogs(expected.server, actual.server);
    assert.equal(sdiff, null, `server: ${sdiff}`);
    timings.push(`${s.name.slice(0, 40)}: node:net ${expected.ms.toFixed(0)} ms, workerd ${actual.ms.toFixed(0)} ms`);
  });
}

test('workerd: timings', { skip: why ?? false }, () => {
  for (const line of timings) console.log(line);
});
