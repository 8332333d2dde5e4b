// Plugins off the real network: two guests and the test's own client on one simulated network
// (loadPlugin with `stack`), the same seed giving the same events at the same virtual times;
// and a plugin on real sockets recorded at its stack's boundary and replayed exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import net from 'node:net';
import { createStack, replay, formatDivergence } from '../../host/index.js';
import { pattern, sendPattern, hashUntilEnd, patternHash, sockPath } from './helpers.js';
import { loadTracked, plugins, startListening } from './plugin-util.js';

const echo = join(plugins, 'echo.wasm');
const lineClient = join(plugins, 'line-client.wasm');

/** Echo and line-client plugins plus a client of the test on a sim network; returns what happened, in order, with virtual times. */
async function simSession(seed: number): Promise<string[]> {
  const stack = createStack({ backend: 'sim', seed, latency: [1, 20], chunk: [1, 1500] });
  const log: string[] = [];
  const echoPlugin = loadTracked(echo, { stack, args: ['7'], stdout: (t) => log.push(`echo: ${t.trim()} @${stack.now()}`) });
  await stack.run();
  // Another guest on the same network: a line through the echo plugin.
  const client = loadTracked(lineClient, { stack, args: ['127.0.0.1:7', 'over the sim'], stdout: (t) => log.push(`line-client: ${t.trim()} @${stack.now()}`) });
  // And the test's own client: 64 KiB with half-close; every chunk size and time is the seed's.
  const c = stack.connect(7, '127.0.0.1');
  c.on('data', (d: Buffer) => log.push(`data ${d.length} @${stack.now()}`));
  c.on('end', () => log.push(`end @${stack.now()}`));
  const got = hashUntilEnd(c);
  for (const b of pattern(seed, 65536, 4096)) c.write(b);
  c.end();
  await stack.run();
  assert.deepEqual(await got, { hash: patternHash(seed, 65536), bytes: 65536 });
  const r = await client.exited;
  log.push(`line-client exited ${r.reason} ${r.code}`);
  assert.deepEqual(r, { reason: 'exit', code: 0, message: 'exited with status 0' });
  await echoPlugin.stop();
  return log;
}

test('sim: two plugins and a client on one simulated network; the same seed gives the same events at the same virtual times', { timeout: 60_000 }, async () => {
  const a = await simSession(7);
  const b = await simSession(7);
  assert.ok(a.includes('line-client: over the sim @' + a.find((l) => l.startsWith('line-client: '))!.split('@')[1]));
  assert.ok(a.some((l) => l.startsWith('echo: echo listening on 127.0.0.1:7')));
  assert.ok(a.filter((l) => l.startsWith('data ')).length > 10, 'the sim delivered the echo in many chunks');
  assert.deepEqual(a, b);
  const c = await simSession(8);
  assert.notDeepEqual(a, c, 'another seed gives another interleaving');
});

test('sim: a guest socket\'s idle timeout runs on virtual time (no wall time passes)', { timeout: 60_000 }, async () => {
  const stack = createStack({ backend: 'sim', seed: 3 });
  let out = '';
  const started = Date.now();
  // line-client sets a 10 s idle timeout; a server that never answers makes it fire.
  const server = stack.createServer(() => {});
  server.listen(9, '127.0.0.1');
  await stack.run();
  const client = loadTracked(lineClient, { stack, args: ['127.0.0.1:9', 'anyone?'], stdout: (t) => { out += t; } });
  const r = await client.exited;
  assert.deepEqual(r, { reason: 'exit', code: 1, message: 'exited with status 1' });
  assert.equal(out, 'line-client: no reply within 10 s\n');
  assert.ok(stack.now() >= 10_000, `virtual time ${stack.now()}`);
  assert.ok(Date.now() - started < 5_000, 'ten virtual seconds took no wall time');
  server.close();
});

test('record: a plugin on real sockets is recorded at its stack\'s boundary and replays exactly', { timeout: 60_000 }, async () => {
  const file = sockPath('plugin').replace(/\.sock$/, '.trace');
  const { plugin, port } = await startListening(echo, ['0'], { record: file });
  const c = net.connect(port, '127.0.0.1');
  const got = hashUntilEnd(c);
  await sendPattern(c, 21, 256 * 1024);
  assert.deepEqual(await got, { hash: patternHash(21, 256 * 1024), bytes: 256 * 1024 });
  await new Promise((r) => c.once('close', r));
  await plugin.stop();
  const result = replay(file);
  assert.ok(result.ok, result.divergence ? formatDivergence(result.divergence) : 'diverged');
  assert.ok(result.inputs > 10, `only ${result.inputs} inputs recorded`);
});
