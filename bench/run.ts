// `npm run bench`: wasinet and node:net side by side in one run, against the same peer in a
// separate process, reported as ratios (wasinet / node:net; higher is better for wasinet).
// Each case runs alternately REPEAT times per library and keeps the best, to damp noise.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import nodeNet from 'node:net';
import wasinet from '../host/index.js';

type Lib = { connect: (port: number, host: string) => nodeNet.Socket };
const libs: Record<string, Lib> = { 'node:net': nodeNet as unknown as Lib, wasinet: wasinet as unknown as Lib };
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const MiB = 1024 * 1024;

const peer = spawn(process.execPath, [fileURLToPath(new URL('./peer.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
const ports: { sink: number; source: number; echo: number } = await new Promise((resolve) => {
  let buf = '';
  peer.stdout!.on('data', (d) => {
    buf += d;
    if (buf.includes('\n')) resolve(JSON.parse(buf));
  });
});

function connected(lib: Lib, port: number): Promise<nodeNet.Socket> {
  return new Promise((resolve, reject) => {
    const s = lib.connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `total` bytes in `chunk`-sized writes; returns MB/s once the peer confirmed the count. */
async function send(lib: Lib, total: number, chunk: number): Promise<number> {
  const s = await connected(lib, ports.sink);
  const buf = Buffer.alloc(chunk, 1);
  const t0 = performance.now();
  let left = total;
  while (left > 0) {
    left -= chunk;
    if (!s.write(buf)) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  const answer = await new Promise<string>((resolve) => {
    let a = '';
    s.on('data', (d) => { a += d; });
    s.on('end', () => resolve(a));
  });
  const ms = performance.now() - t0;
  if (Number(answer) !== total) throw new Error(`sink got ${answer} of ${total}`);
  s.destroy();
  return total / 1e6 / (ms / 1000);
}

/** Receives `total` bytes the peer writes in `chunk`-sized writes; returns MB/s. */
async function receive(lib: Lib, total: number, chunk: number): Promise<number> {
  const s = await connected(lib, ports.source);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(total / MiB, 0);
  head.writeUInt32LE(chunk, 4);
  const t0 = performance.now();
  s.write(head);
  let got = 0;
  await new Promise<void>((resolve) => {
    s.on('data', (d) => { got += d.length; });
    s.on('end', () => resolve());
  });
  const ms = performance.now() - t0;
  if (got !== total) throw new Error(`received ${got} of ${total}`);
  s.destroy();
  return total / 1e6 / (ms / 1000);
}

/** 1-byte echo round trips per second. */
async function echo(lib: Lib, rounds: number): Promise<number> {
  const s = await connected(lib, ports.echo);
  s.setNoDelay(true);
  const one = Buffer.from([42]);
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    await new Promise<void>((resolve) => {
      s.once('data', () => resolve());
      s.write(one);
    });
  }
  const ms = performance.now() - t0;
  s.destroy();
  return rounds / (ms / 1000);
}

/** Runs one measurement; returns [rate, CPU ms of this process per GiB moved (or per 10k round trips)]. */
async function measured(run: () => Promise<number>, per: number): Promise<[number, number]> {
  const before = process.cpuUsage();
  const rate = await run();
  const used = process.cpuUsage(before);
  return [rate, (used.user + used.system) / 1000 / per];
}

const cases: [string, string, (lib: Lib) => Promise<number>][] = [
  ['send 256 MiB, 16 KiB writes', 'MB/s', (l) => send(l, 256 * MiB, 16 * 1024)],
  ['send 256 MiB, 1 MiB writes', 'MB/s', (l) => send(l, 256 * MiB, MiB)],
  ['receive 256 MiB, peer writes 16 KiB', 'MB/s', (l) => receive(l, 256 * MiB, 16 * 1024)],
  ['receive 256 MiB, peer writes 1 MiB', 'MB/s', (l) => receive(l, 256 * MiB, MiB)],
  ['1-byte echo round trips', 'rt/s', (l) => echo(l, 5000)],
];

console.log(`wasinet bench: node ${process.version}, peer in a separate process, best of ${REPEAT} (alternating)`);
console.log('rate ratio = wasinet / node:net (higher is better); CPU = this process\'s CPU time for the work, ratio node:net / wasinet\n');
console.log(`${'case'.padEnd(38)} ${'node:net'.padStart(10)} ${'wasinet'.padStart(10)}  ratio   ${'CPU node'.padStart(9)} ${'CPU wasi'.padStart(9)}  ratio`);
for (const [name, unit, run] of cases) {
  const best: Record<string, number> = { 'node:net': 0, wasinet: 0 };
  const cpu: Record<string, number> = { 'node:net': Infinity, wasinet: Infinity };
  const per = unit === 'rt/s' ? 0.5 : 0.25; // 5000 round trips (per 10k), 256 MiB (per GiB)
  for (let i = 0; i < REPEAT; i++) {
    for (const lib of Object.keys(libs)) {
      const [rate, ms] = await measured(() => run(libs[lib]), per);
      best[lib] = Math.max(best[lib], rate);
      cpu[lib] = Math.min(cpu[lib], ms);
    }
  }
  const cpuUnit = unit === 'rt/s' ? 'ms/10k' : 'ms/GiB';
  console.log(`${name.padEnd(38)} ${best['node:net'].toFixed(0).padStart(6)} ${unit.padEnd(4)}${best.wasinet.toFixed(0).padStart(6)} ${unit.padEnd(4)} ${(best.wasinet / best['node:net']).toFixed(2)}` +
    `   ${cpu['node:net'].toFixed(0).padStart(5)} ${cpu.wasinet.toFixed(0).padStart(5)} ${cpuUnit}  ${(cpu['node:net'] / cpu.wasinet).toFixed(2)}`);
}
peer.stdin!.end();
