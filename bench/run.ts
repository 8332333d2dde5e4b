// `npm run bench`: wasinet and node:net side by side in one run. See docs/benchmark.md.
//
// For every cell, round and library this orchestrator spawns a fresh peer (node:net, pinned to
// CPU 1) and a fresh worker (the library under test, pinned to CPU 0, --expose-gc), relays the
// worker's commands to the peer, and collects the worker's result. Rounds interleave the
// libraries (odd rounds node:net first, even rounds wasinet first). At the end it prints a
// Markdown table (median, min–max per library, ratio of medians wasinet ÷ node:net) and writes
// the same as JSON to build/bench/results.json.
//
// Environment: BENCH_ROUNDS (default 3), BENCH_QUICK=1 (small sizes, 1 round: a smoke run),
// BENCH_ONLY=<regexp> (only the cells whose name matches).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onLines, sendLine, type Lib, type PeerEndpoints, type Spec, type WorkerInput, type WorkerResult } from './common.js';

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY, 'i') : null;
const LIBS: Lib[] = ['node:net', 'wasinet'];
const KiB = 1024;
const MiB = 1024 * KiB;
/** A worker and its peer that take longer than this are killed and the run counted as failed. */
const RUN_TIMEOUT_MS = 90_000;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`BENCH_ROUNDS must be a positive integer, not ${process.env.BENCH_ROUNDS}`);

// ---- the machine ----
const here = path.dirname(fileURLToPath(import.meta.url));
const cpus = os.availableParallelism();
const taskset = spawnSync('taskset', ['-c', '0', 'true']).error === undefined;
const pin = taskset && [0, 1].every((cpu) => spawnSync('taskset', ['-c', String(cpu), 'true']).status === 0);
const pinning = !taskset ? 'UNPINNED: taskset not found'
  : !pin ? 'UNPINNED: taskset cannot use CPUs 0 and 1 here'
  : 'worker on CPU 0, peer on CPU 1 (taskset -c)';

/** Idle connections to hold (cells 2 and 3), limited by what `ulimit -n` can be raised to. */
const HOLD_WANTED = QUICK ? 500 : 5000;
const FD_MARGIN = 200;
const limits = spawnSync('bash', ['-c', 'ulimit -n; ulimit -Hn'], { encoding: 'utf8' });
const [softFds, hardFds] = limits.status === 0
  ? limits.stdout.trim().split('\n').map((s) => (s === 'unlimited' ? Infinity : Number(s)))
  : [1024, 1024];
const fdsWanted = HOLD_WANTED + FD_MARGIN;
/** The `ulimit -n` the worker and peer get (through a bash wrapper when it has to be raised). */
const raiseFdsTo = softFds >= fdsWanted ? null : Math.min(hardFds, fdsWanted);
const fdLimit = raiseFdsTo ?? softFds;
const HOLD = Math.min(HOLD_WANTED, fdLimit - FD_MARGIN);
const fdNote = (raiseFdsTo === null || raiseFdsTo === softFds ? `ulimit -n ${fdLimit}` : `ulimit -n raised from ${softFds} to ${raiseFdsTo}`)
  + (HOLD < HOLD_WANTED ? ` (the hard limit): ${HOLD} idle connections instead of ${HOLD_WANTED}` : '');

function spawnPinned(cpu: number, args: string[]): ChildProcess {
  let cmd = [process.execPath, ...args];
  if (pin) cmd = ['taskset', '-c', String(cpu), ...cmd];
  if (raiseFdsTo !== null) cmd = ['bash', '-c', `ulimit -n ${raiseFdsTo} && exec "$@"`, 'bench', ...cmd];
  return spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
}

// ---- the cells ----
type Better = 'higher' | 'lower';
/** `floor`: below this node:net median the ratio is not given (a ratio to about nothing says nothing). */
interface Metric { key: string; label: string; better: Better; floor?: number }
interface Cell { name: string; spec: Spec; metrics: Metric[] }

const q = <T>(full: T, quick: T): T => (QUICK ? quick : full);
const CAP_MS = q(4000, 1000);
const transports = ['tcp', 'unix'] as const;
const T = (t: string): string => (t === 'tcp' ? 'TCP' : 'Unix');
const cells: Cell[] = [];
/** Memory deltas under this many bytes per connection count as none (no ratio). */
const BYTES_FLOOR = 64;

// 1. connect + end + close.
for (const role of ['client', 'server'] as const) {
  for (const parallel of [1, 64]) {
    for (const transport of transports) {
      cells.push({
        name: `connect+end+close, ${parallel === 1 ? '1 client' : `${parallel} clients in parallel`}, library is ${role}, ${T(transport)}`,
        spec: { kind: 'cycle', transport, role, parallel, count: q(parallel === 1 ? 3000 : 6000, 300), capMs: CAP_MS, warmup: q(200, 50) },
        metrics: [{ key: 'rate', label: 'connections/s', better: 'higher' }],
      });
    }
  }
}
// 2 and 3. Open HOLD connections and keep them: the time, and memory per idle connection.
for (const role of ['client', 'server'] as const) {
  for (const transport of transports) {
    cells.push({
      name: `${HOLD} idle connections, library is ${role}, ${T(transport)}`,
      spec: { kind: 'hold', transport, role, count: HOLD, window: 64, warmup: 64 },
      metrics: [
        { key: 'openMs', label: `ms to open ${HOLD}`, better: 'lower' },
        { key: 'rss', label: 'RSS bytes/connection', better: 'lower', floor: BYTES_FLOOR },
        { key: 'heapUsed', label: 'JS heap bytes/connection', better: 'lower', floor: BYTES_FLOOR },
        { key: 'external', label: 'external bytes/connection', better: 'lower', floor: BYTES_FLOOR },
        { key: 'arrayBuffers', label: 'arrayBuffers bytes/connection', better: 'lower', floor: BYTES_FLOOR },
      ],
    });
  }
}
// 4, 5, 6. Bulk transfer in 64 B, 16 KiB and 1 MiB writes, both directions.
for (const [chunk, label, total] of [[64, '64 B', q(24 * MiB, 2 * MiB)], [16 * KiB, '16 KiB', q(1024 * MiB, 64 * MiB)], [MiB, '1 MiB', q(2048 * MiB, 128 * MiB)]] as const) {
  for (const kind of ['send', 'receive'] as const) {
    for (const transport of transports) {
      cells.push({
        name: `${label} writes, ${kind === 'send' ? 'library sends to peer' : 'peer sends to library'}, ${T(transport)}`,
        spec: { kind, transport, chunk, total, capMs: CAP_MS, warmup: Math.min(total / 16, 64 * MiB) },
        metrics: [
          { key: 'mbps', label: 'MB/s', better: 'higher' },
          { key: 'cpuPerGiB', label: 'library CPU ms/GiB', better: 'lower' },
        ],
      });
    }
  }
}
// 7. 1-byte echo.
for (const transport of transports) {
  cells.push({
    name: `1-byte echo round trips, library is client, ${T(transport)}`,
    spec: { kind: 'echo', transport, count: q(30_000, 2000), capMs: CAP_MS, warmup: q(2000, 200) },
    metrics: [
      { key: 'rate', label: 'round trips/s', better: 'higher' },
      { key: 'cpuPer10k', label: 'library CPU ms/10k round trips', better: 'lower' },
    ],
  });
}
// 8. An echo server: node:net's (s.pipe(s)) against wasinet's echo plugin (bench/plugin-cell.ts).
cells.push({
  name: 'echo server (wasinet: the echo plugin), connect+end+close, 64 clients in parallel, TCP',
  spec: { kind: 'plugin-echo', transport: 'tcp', mode: 'cycle', count: q(6000, 300), parallel: 64, chunk: 0, capMs: CAP_MS, warmup: q(200, 50) },
  metrics: [{ key: 'rate', label: 'connections/s', better: 'higher' }],
});
cells.push({
  name: 'echo server (wasinet: the echo plugin), 64 KiB writes echoed back, 1 client, TCP',
  spec: { kind: 'plugin-echo', transport: 'tcp', mode: 'pump', count: q(1024 * MiB, 32 * MiB), parallel: 1, chunk: 64 * KiB, capMs: CAP_MS, warmup: q(64 * MiB, 4 * MiB) },
  metrics: [{ key: 'mbps', label: 'MB/s echoed', better: 'higher' }, { key: 'cpuPerGiB', label: 'library CPU ms/GiB', better: 'lower' }],
});
const selected = ONLY ? cells.filter((c) => ONLY.test(c.name)) : cells;

// ---- other load: CPU time the machine spent on processes other than this bench ----
/** Busy and total CPU ticks of the machine, and ticks of this process and its reaped children. */
function ticks(): { busy: number; total: number; ours: number } | null {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
    const busy = total - cpu[3] - cpu[4];
    const self = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number); // fields from 3 (state) on
    const ours = f[11] + f[12] + f[13] + f[14]; // utime stime cutime cstime (fields 14–17)
    return { busy, total, ours };
  } catch {
    return null; // not Linux
  }
}
/** The share of all CPUs' time between two snapshots that went to other processes (0..1). */
function otherLoad(a: ReturnType<typeof ticks>, b: ReturnType<typeof ticks>): number | null {
  if (!a || !b || b.total <= a.total) return null;
  return Math.max(0, (b.busy - a.busy) - (b.ours - a.ours)) / (b.total - a.total);
}

// ---- one measurement: a fresh peer and a fresh worker ----
type Outcome = ({ ok: true; result: WorkerResult } | { ok: false; error: string }) & { otherLoad?: number | null };

async function measure(cell: Cell, lib: Lib, dir: string): Promise<Outcome> {
  const children: ChildProcess[] = [];
  const stderr: string[] = [];
  let fail = (_error: string): void => {};
  const start = (cpu: number, args: string[], who: string): ChildProcess => {
    const c = spawnPinned(cpu, args);
    children.push(c);
    c.on('error', (e) => fail(`${who} could not be started: ${e.message}`));
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => stderr.push(`${who}: ${d}`));
    c.stdin!.on('error', () => {}); // a child that died is reported through its exit
    return c;
  };
  const exited = (c: ChildProcess): Promise<void> => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<Outcome>((resolve) => {
      fail = (error) => resolve({ ok: false, error: `${error}${stderr.length ? `\n${stderr.join('').slice(-2000)}` : ''}` });
      timer = setTimeout(() => {
        fail(`timed out after ${RUN_TIMEOUT_MS / 1000} s`);
        for (const c of children) c.kill('SIGKILL');
      }, RUN_TIMEOUT_MS);
      const peer = start(1, [path.join(here, 'peer.js'), dir], 'peer');
      peer.once('close', (code, signal) => fail(`peer exited early (${signal ?? code})`));
      let worker: ChildProcess | null = null;
      onLines(peer.stdout!, (m: { ready?: PeerEndpoints; reply?: unknown }) => {
        if (m.ready) {
          const input: WorkerInput = { spec: cell.spec, peer: m.ready, dir };
          worker = start(0, ['--expose-gc', path.join(here, 'worker.js'), lib, JSON.stringify(input)], 'worker');
          worker.once('close', (code, signal) => fail(`worker exited without a result (${signal ?? code})`));
          onLines(worker.stdout!, (w: { peer?: unknown; result?: WorkerResult; error?: string }) => {
            if (w.peer) sendLine(peer.stdin!, w.peer);
            else if (w.result) resolve({ ok: true, result: w.result });
            else if (w.error !== undefined) fail(w.error);
          });
        } else if (m.reply && worker) {
          sendLine(worker.stdin!, m);
        }
      });
    });
  } finally {
    clearTimeout(timer);
    for (const c of children) {
      c.removeAllListeners('close');
      c.stdin!.end();
    }
    const killer = setTimeout(() => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); }, 5000);
    await Promise.all(children.map(exited));
    clearTimeout(killer);
  }
}

// ---- statistics and the report ----
interface Stats { samples: number[]; median: number; min: number; max: number; spread: number }
function stats(samples: number[]): Stats | null {
  if (!samples.length) return null;
  const s = [...samples].sort((a, b) => a - b);
  const m = s.length >> 1;
  const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  return { samples, median, min: s[0], max: s[s.length - 1], spread: median ? (s[s.length - 1] - s[0]) / Math.abs(median) : 0 };
}
/** A library's spread (max − min, relative to its median) above this is flagged in the table. */
const WIDE = 0.2;

const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;

function fmt(x: number): string {
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

interface Row {
  cell: string; metric: string; better: Better;
  'node:net': Stats | null; wasinet: Stats | null;
  ratio: number | null; wide: boolean; capped: Record<Lib, number>; failures: Record<Lib, string[]>;
  /** The most CPU other processes took during one of this cell's runs (share of the machine). */
  otherLoad: number | null;
}

async function run(): Promise<Row[]> {
  const t0 = Date.now();
  const ticks0 = ticks();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasinet-bench-'));
  const results = new Map<Cell, Record<Lib, Outcome[]>>(selected.map((c) => [c, { 'node:net': [], wasinet: [] }]));
  const total = selected.length * LIBS.length * ROUNDS;
  let done = 0;
  console.error(`wasinet bench: ${selected.length} cells × ${LIBS.length} libraries × ${ROUNDS} rounds = ${total} runs; ${pinning}; ${fdNote}`);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 ? LIBS : [...LIBS].reverse();
      for (const cell of selected) {
        for (const lib of order) {
          const t = Date.now();
          const before = ticks();
          const outcome = await measure(cell, lib, dir);
          outcome.otherLoad = otherLoad(before, ticks());
          results.get(cell)![lib].push(outcome);
          done++;
          const what = outcome.ok
            ? cell.metrics.map((m) => `${fmt(outcome.result.values[m.key])} ${m.label}`).join(', ') + (outcome.result.capped ? ' (capped)' : '')
            : `FAILED: ${outcome.error.split('\n')[0]}`;
          const other = outcome.otherLoad == null ? '' : `, other load ${pct(outcome.otherLoad)}`;
          console.error(`[${done}/${total}] round ${round} ${cell.name} — ${lib}: ${what} (${((Date.now() - t) / 1000).toFixed(1)} s${other})`);
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (Date.now() - t0) / 1000;
  const loads = [...results.values()].flatMap((r) => LIBS.flatMap((l) => r[l].map((o) => o.otherLoad ?? null))).filter((x): x is number => x !== null);
  const load = { whole: otherLoad(ticks0, ticks()), maxRun: loads.length ? Math.max(...loads) : null };

  const rows: Row[] = [];
  for (const cell of selected) {
    const r = results.get(cell)!;
    for (const m of cell.metrics) {
      const per = (lib: Lib): Stats | null => stats(r[lib].flatMap((o) => (o.ok ? [o.result.values[m.key]] : [])));
      const a = per('node:net');
      const b = per('wasinet');
      rows.push({
        cell: cell.name, metric: m.label, better: m.better, 'node:net': a, wasinet: b,
        ratio: a && b && a.median > (m.floor ?? 0) && b.median > 0 ? b.median / a.median : null,
        wide: [a, b].some((s) => s !== null && s.spread > WIDE),
        capped: { 'node:net': r['node:net'].filter((o) => o.ok && o.result.capped).length, wasinet: r.wasinet.filter((o) => o.ok && o.result.capped).length },
        failures: { 'node:net': r['node:net'].flatMap((o) => (o.ok ? [] : [o.error])), wasinet: r.wasinet.flatMap((o) => (o.ok ? [] : [o.error])) },
        otherLoad: LIBS.flatMap((l) => r[l].map((o) => o.otherLoad ?? -1)).reduce((a, b) => Math.max(a, b), -1),
      });
      if (rows[rows.length - 1].otherLoad! < 0) rows[rows.length - 1].otherLoad = null;
    }
  }

  const env = {
    date: new Date(t0).toISOString(), node: process.version, platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown', cpus, pinning, fds: fdNote, rounds: ROUNDS, quick: QUICK,
    only: ONLY?.source ?? null, capMs: CAP_MS, seconds, otherLoad: load,
  };
  fs.writeFileSync(path.join(here, 'results.json'), JSON.stringify({
    env,
    cells: selected.map((c) => ({ name: c.name, spec: c.spec, runs: results.get(c) })),
    rows,
  }, null, 2) + '\n');

  const out: string[] = [];
  out.push(`## wasinet vs node:net — ${env.date}`, '');
  out.push(`Node ${env.node}, ${env.platform}, ${cpus} × ${env.cpu}. ${pinning}; ${fdNote}.`);
  out.push(`${ROUNDS} round${ROUNDS > 1 ? 's' : ''}${QUICK ? ' (BENCH_QUICK: small sizes, a smoke run)' : ''}, a fresh worker and peer per cell, library and round; libraries interleaved. Time cap per cell ${CAP_MS / 1000} s.`);
  if (load.whole !== null) {
    out.push(`Other processes on the machine used ${pct(load.whole)} of its CPU time during the run (at most ${pct(load.maxRun ?? 0)} during one measurement; the last column gives the most during a cell's runs, the JSON each run's).`);
  }
  out.push(`Values: median (min–max) over the rounds. Ratio: wasinet median ÷ node:net median; the "better" column says which way is good for that metric. ⚠: a library's spread (max−min) exceeds ${WIDE * 100}% of its median.`, '');
  out.push('| cell | metric | better | node:net | wasinet | wasinet ÷ node:net | other load (max) |');
  out.push('|---|---|---|---|---|---|---|');
  const cellOf = (s: Stats | null, fails: string[]): string => {
    if (!s) return `FAILED (${fails.length}/${ROUNDS}): ${fails[0]?.split('\n')[0].replace(/\|/g, '\\|') ?? ''}`;
    const v = `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
    return fails.length ? `${v}; failed ${fails.length}/${ROUNDS}` : v;
  };
  for (const row of rows) {
    const tiny = row.ratio === null && row['node:net'] !== null && row.wasinet !== null;
    const ratio = row.ratio !== null ? row.ratio.toFixed(2) + (row.wide ? ' ⚠' : '') : tiny ? 'n/a (≈ 0 or negative)' : '—';
    out.push(`| ${row.cell} | ${row.metric} | ${row.better} | ${cellOf(row['node:net'], row.failures['node:net'])} | ${cellOf(row.wasinet, row.failures.wasinet)} | ${ratio} | ${row.otherLoad === null ? '—' : pct(row.otherLoad)} |`);
  }
  out.push('');
  const notes: string[] = [];
  for (const row of rows) {
    for (const lib of LIBS) {
      if (row.capped[lib]) notes.push(`- ${row.cell} — ${lib}: the time cap ended ${row.capped[lib]} of ${ROUNDS} runs before the full count (rates are over what completed).`);
      const errors = new Map<string, number>();
      for (const f of row.failures[lib]) {
        const e = f.replace(/\s+/g, ' ').slice(0, 500);
        errors.set(e, (errors.get(e) ?? 0) + 1);
      }
      for (const [e, k] of errors) notes.push(`- ${row.cell} — ${lib} FAILED in ${k} of ${ROUNDS} runs: ${e}`);
    }
  }
  const uniqueNotes = [...new Set(notes)];
  if (uniqueNotes.length) out.push('Notes:', ...uniqueNotes, '');
  out.push(`Whole run: ${seconds.toFixed(0)} s (${(seconds / 60).toFixed(1)} min). JSON: build/bench/results.json.`);
  console.log(out.join('\n'));
  return rows;
}

await run();
