// Format 1 (JSON lines, record: { version: 1 }): record a session at the boundary, replay it on
// a fresh core with no network, and notice any change to the recording; and show that a seeded
// sim script gives the same trace in two separate processes (format 2: its records). Format 2's
// own tests are in replay-trace2.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStack, replay, formatDivergence, readTrace, type StackApi } from '../../host/index.js';
import { sockPath, sendPattern, hashUntilEnd, patternHash } from './helpers.js';
import { Op } from '../../host/core/abi.js';

type Sock = InstanceType<StackApi['Socket']>;
const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = join(root, 'bin/wasinet.js');
const MiB = 1024 * 1024;

let recorded: string | null = null;

/** A real loopback session: 10 MiB each way, a half-close, an idle timeout; returns the trace path. */
async function recordSession(): Promise<string> {
  if (recorded) return recorded;
  const file = sockPath('session').replace(/\.sock$/, '.trace');
  const net = createStack({ record: { path: file, version: 1 } });
  let serverGot!: Promise<{ hash: string; bytes: number }>;
  const timeouts: number[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s: Sock) => {
    serverGot = hashUntilEnd(s);
    s.on('end', () => {
      // The client ended its side; stay quiet until the idle timeout, then answer.
      s.setTimeout(50, () => {
        timeouts.push(Date.now());
        s.setTimeout(0);
        void sendPattern(s, 22, 10 * MiB);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const client = net.connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', allowHalfOpen: true });
  const clientGot = hashUntilEnd(client);
  const closed = new Promise((r) => client.on('close', r));
  await sendPattern(client, 21, 10 * MiB);
  const c = await clientGot;
  const s = await serverGot;
  await closed;
  await new Promise((r) => server.close(r));
  await net.recorder!.close();
  assert.equal(s.bytes, 10 * MiB);
  assert.equal(s.hash, patternHash(21, 10 * MiB));
  assert.equal(c.hash, patternHash(22, 10 * MiB));
  assert.equal(timeouts.length, 1);
  recorded = file;
  return file;
}

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n');
}

test('a recorded loopback TCP session (10 MiB each way, half-close, idle timeout) replays identically', { timeout: 60000 }, async () => {
  const file = await recordSession();
  const text = lines(file);
  assert.ok(text.some((l) => l.includes('"in":"onEof"')), 'the half-close is in the trace');
  assert.ok(text.some((l) => l.includes('"in":"onTimer"')), 'the idle timeout is in the trace');
  const r = replay(file);
  assert.equal(r.ok, true, r.divergence && formatDivergence(r.divergence));
  assert.ok(r.inputs > 100);
  const run = spawnSync(process.execPath, [cli, 'replay', file], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /replay identical: \d+ inputs/);
});

test('replay reports a changed payload byte, with where and what', { timeout: 60000 }, async () => {
  const file = await recordSession();
  const text = lines(file);
  const i = text.findIndex((l) => l.includes('"in":"onData"'));
  const line = JSON.parse(text[i]);
  const p = Buffer.from(line.p, 'base64');
  p[p.length >> 1] ^= 0x40;
  line.p = p.toString('base64');
  text[i] = JSON.stringify(line);
  const altered = file.replace(/\.trace$/, '-byte.trace');
  writeFileSync(altered, text.join('\n'));
  const r = replay(altered);
  assert.equal(r.ok, false);
  assert.equal(r.divergence!.line, i + 1);
  assert.equal(r.divergence!.input, 'onData');
  assert.equal(r.divergence!.time, line.t);
  assert.equal(r.divergence!.handle, line.args[0]);
  assert.equal(r.divergence!.what, 'outputs');
  const run = spawnSync(process.execPath, [cli, 'replay', altered], { encoding: 'utf8' });
  assert.equal(run.status, 1);
  assert.match(run.stdout, new RegExp(`replay diverged at line ${i + 1}: input onData at t=`));
  assert.match(run.stdout, /expected: EV_DATA/);
  assert.match(run.stdout, /actual: {3}EV_DATA/);
});

test('replay reports a changed `now`', { timeout: 60000 }, async () => {
  const file = await recordSession();
  const text = lines(file);
  // The input that delivered the idle timeout: earlier, the timer is not due yet.
  const i = text.findIndex((l) => l.includes('"in":"onTimer"') && l.includes('"out":[[')
    && JSON.parse(l).out.some((o: number[]) => o[0] === Op.EV_TIMEOUT));
  assert.ok(i > 0, 'found the onTimer that fired TIMEOUT');
  const line = JSON.parse(text[i]);
  line.t -= 40;
  text[i] = JSON.stringify(line);
  const altered = file.replace(/\.trace$/, '-now.trace');
  writeFileSync(altered, text.join('\n'));
  const r = replay(altered);
  assert.equal(r.ok, false);
  assert.equal(r.divergence!.line, i + 1);
  assert.equal(r.divergence!.input, 'onTimer');
  const run = spawnSync(process.execPath, [cli, 'replay', altered], { encoding: 'utf8' });
  assert.equal(run.status, 1, run.stdout);
  assert.match(run.stdout, /input onTimer at t=/);
});

test('a seeded sim script gives the same trace in two processes; another seed another trace', { timeout: 60000 }, () => {
  const script = (seed: number, out: string) => `
    import { createStack } from ${JSON.stringify(join(root, 'build/host/index.js'))};
    const net = createStack({ backend: 'sim', seed: ${seed}, latency: [1, 20], chunk: [1, 5000], record: ${JSON.stringify(out)} });
    const server = net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('end', () => s.end()); });
    server.listen(80);
    let open = 3;
    for (let i = 0; i < 3; i++) {
      const c = net.connect(80, '127.0.0.1');
      c.setTimeout(500, () => c.end());
      for (let k = 0; k < 20; k++) c.write(Buffer.alloc(1000 + 97 * k, i));
      c.resume();
      c.on('close', () => { if (--open === 0) server.close(); });
    }
    await net.run();
    await net.recorder.close();
  `;
  const run = (seed: number, tag: string) => {
    const out = sockPath(`det-${tag}`).replace(/\.sock$/, '.trace');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(seed, out)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // The header names the recording and when it started; the records are the run.
    const { records } = readTrace(out);
    assert.ok(records.length > 100);
    return createHash('sha256').update(JSON.stringify(records)).digest('hex');
  };
  const a = run(1234, 'a');
  const b = run(1234, 'b');
  const c = run(4321, 'c');
  assert.equal(a, b);
  assert.notEqual(a, c);
});
