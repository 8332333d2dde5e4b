// `npm run bench`: wasinet and node:net side by side in one run. See docs/benchmark.md.
//
// For every cell, round and library this orchestrator spawns a fresh peer (node:net, pinned to
// CPU 1) and a fresh worker (the library under test, pinned to CPU 0, --expose-gc), relays the
// worker's commands to the peer, and collects the worker's result. Rounds interleave the
// libraries (odd rounds node:net first, even rounds wasinet first). At the end it prints a
// Markdown table (median, min–max per library, ratio of medians wasinet ÷ node:net) and writes
// the same as JSON to build/bench/results.json.
//
// Cells "… with record" also run wasinet on a stack that records a trace ('wasinet+record'), in
// the same rounds: the table gives its median and its ratio to plain wasinet, and the trace's
// size (÷ the payload the inputs carried, and bytes per input beyond the payload).
//
// Traces go to BENCH_TRACE_DIR, by default a fresh directory on /dev/shm where there is one (a
// RAM-backed file system: the cells then measure the recorder, not this machine's disk; the
// header says which), else beside the Unix sockets.
//
// Environment: BENCH_ROUNDS (default 3), BENCH_QUICK=1 (small sizes, 1 round: a smoke run),
// BENCH_ONLY=<regexp> (only the cells whose name matches), BENCH_WORKER_FLAGS (more flags for the
// worker's runtime, split at spaces: `--cpu-prof --cpu-prof-dir=/tmp/prof` profiles each run).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onLines, sendLine, type Lib, type PeerEndpoints, type Spec, type WorkerInput, type WorkerResult } from './common.js';

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY, 'i')
  : process.env.BENCH_RUNTIME && process.env.BENCH_RUNTIME !== 'node' ? /writes|echo/ : null;
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

// BENCH_RUNTIME=deno|bun: the worker runs on that runtime (the pinned devDependency), so both
// columns are that runtime's: its built-in node:net, and wasinet on its own socket API. The
// peer stays node:net on Node. Without BENCH_ONLY such a run measures throughput and echo.
const RUNTIME = process.env.BENCH_RUNTIME ?? 'node';
const WORKER_FLAGS = (process.env.BENCH_WORKER_FLAGS ?? '').split(' ').filter((f) => f !== '');
if (!['node', 'deno', 'bun'].includes(RUNTIME)) throw new Error(`BENCH_RUNTIME must be node, deno or bun, not ${RUNTIME}`);
const runtimeBin = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules/.bin', RUNTIME);
if (RUNTIME !== 'node' && spawnSync(runtimeBin, ['--version']).status !== 0) {
  console.log(`## wasinet vs node:net on ${RUNTIME}: skipped, ${runtimeBin} does not run here (npm install brings it)`);
  process.exit(0);
}

/** The command line of a child: the peer always on Node, the worker on BENCH_RUNTIME. */
function commandOf(args: string[]): string[] {
  if (RUNTIME === 'node' || !args.includes('--expose-gc')) return [process.execPath, ...args];
  const rest = args.filter((a) => a !== '--expose-gc');
  return RUNTIME === 'deno' ? [runtimeBin, 'run', '-A', '--v8-flags=--expose-gc', ...rest] : [runtimeBin, ...rest];
}

/**
 * The peer is the measuring apparatus, the same program for both libraries: glibc's heap
 * trimming, which otherwise falls on a receiving process in some runs and not others (see
 * docs/benchmark.md), is turned off for it alone, so a send cell measures the library and not
 * which mode the sink drew. The worker runs with the environment as given.
 */
const PEER_ENV = { ...process.env, MALLOC_TRIM_THRESHOLD_: String(2 ** 30) };

function spawnPinned(cpu: number, args: string[], peer = false): ChildProcess {
  let cmd = commandOf(args);
  if (pin) cmd = ['taskset', '-c', String(cpu), ...cmd];
  if (raiseFdsTo !== null) cmd = ['bash', '-c', `ulimit -n ${raiseFdsTo} && exec "$@"`, 'bench', ...cmd];
  return spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: peer ? PEER_ENV : process.env });
}

// ---- the cells ----
type Better = 'higher' | 'lower';
/** `floor`: below this node:net median the ratio is not given (a ratio to about nothing says nothing). */
/** `only`: the one library that reports this metric (the trace's size: wasinet+record). */
interface Metric { key: string; label: string; better: Better; floor?: number; only?: Lib }
/** `libs`: the libraries measured (default node:net and wasinet). */
interface Cell { name: string; spec: Spec; metrics: Metric[]; libs?: Lib[] }
const ALL_LIBS: Lib[] = ['node:net', 'wasinet', 'wasinet+record'];
const libsOf = (c: Cell): Lib[] => c.libs ?? LIBS;
const TRACE_METRICS: Metric[] = [
  { key: 'traceRatio', label: 'trace bytes ÷ bytes exchanged', better: 'lower', only: 'wasinet+record' },
  { key: 'bytesPerInput', label: 'trace bytes per input beyond the payload kept', better: 'lower', only: 'wasinet+record' },
];

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
// 1b. The policy's cost (docs/sandbox.md): the same cycle through a createStack() stack with no
// policy and with 20 rules (the peer's allowed by the last one). Cost = 1 - ratio(20) / ratio(0).
for (const rules of [0, 20]) {
  cells.push({
    name: `connect+end+close, 1 client, library is client, TCP, wasinet stack with ${rules}-rule policy`,
    spec: { kind: 'cycle', transport: 'tcp', role: 'client', parallel: 1, count: q(3000, 300), capMs: CAP_MS, warmup: q(200, 50), policyRules: rules },
    metrics: [{ key: 'rate', label: 'connections/s', better: 'higher' }],
  });
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
// 8. The same with a recording stack (wasinet+record) beside plain wasinet, in the same rounds.
for (const role of ['client', 'server'] as const) {
  cells.push({
    name: `connect+end+close with record, 1 client, library is ${role}, TCP`,
    spec: { kind: 'cycle', transport: 'tcp', role, parallel: 1, count: q(3000, 300), capMs: CAP_MS, warmup: q(200, 50) },
    metrics: [{ key: 'rate', label: 'connections/s', better: 'higher' }, ...TRACE_METRICS],
    libs: ALL_LIBS,
  });
}
for (const kind of ['send', 'receive'] as const) {
  const total = q(1024 * MiB, 64 * MiB);
  cells.push({
    name: `16 KiB writes with record, ${kind === 'send' ? 'library sends to peer' : 'peer sends to library'}, TCP`,
    spec: { kind, transport: 'tcp', chunk: 16 * KiB, total, capMs: CAP_MS, warmup: Math.min(total / 16, 64 * MiB) },
    metrics: [
      { key: 'mbps', label: 'MB/s', better: 'higher' },
      { key: 'cpuPerGiB', label: 'library CPU ms/GiB', better: 'lower' },
      ...TRACE_METRICS,
    ],
    libs: ALL_LIBS,
  });
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

/** Where wasinet+record writes its traces, and what the header says about it. */
function traceDir(dir: string): { dir: string; note: string } {
  const given = process.env.BENCH_TRACE_DIR;
  if (given) return { dir: fs.mkdtempSync(path.join(given, 'wasinet-trace-')), note: `traces in ${given} (BENCH_TRACE_DIR)` };
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return { dir: fs.mkdtempSync('/dev/shm/wasinet-trace-'), note: 'traces on /dev/shm (RAM-backed: the recorder\'s cost, not the disk\'s)' };
  } catch {
    return { dir, note: `traces in ${dir}` };
  }
}

async function measure(cell: Cell, lib: Lib, dir: string, traces: string): Promise<Outcome> {
  const children: ChildProcess[] = [];
  const stderr: string[] = [];
  let fail = (_error: string): void => {};
  const start = (cpu: number, args: string[], who: string): ChildProcess => {
    const c = spawnPinned(cpu, args, who === 'peer');
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
          const input: WorkerInput = { spec: cell.spec, peer: m.ready, dir, traces };
          worker = start(0, ['--expose-gc', ...WORKER_FLAGS, path.join(here, 'worker.js'), lib, JSON.stringify(input)], 'worker');
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
  'node:net': Stats | null; wasinet: Stats | null; 'wasinet+record': Stats | null;
  /** wasinet ÷ node:net, and wasinet+record ÷ wasinet (cells with record). */
  ratio: number | null; recordRatio: number | null;
  wide: boolean; capped: Record<Lib, number>; failures: Record<Lib, string[]>;
  /** Runs whose recording stopped early (the trace writer fell `maxPending` bytes behind). */
  truncated: Record<Lib, number>;
  only: Lib | null; libs: Lib[];
  /** The most CPU other processes took during one of this cell's runs (share of the machine). */
  otherLoad: number | null;
}

async function run(): Promise<Row[]> {
  const t0 = Date.now();
  const ticks0 = ticks();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasinet-bench-'));
  const traces = selected.some((c) => libsOf(c).includes('wasinet+record')) ? traceDir(dir) : null;
  const results = new Map<Cell, Record<Lib, Outcome[]>>(selected.map((c) => [c, { 'node:net': [], wasinet: [], 'wasinet+record': [] }]));
  const total = selected.reduce((n, c) => n + libsOf(c).length, 0) * ROUNDS;
  let done = 0;
  console.error(`wasinet bench: ${selected.length} cells × ${LIBS.length} libraries (3 in cells with record) × ${ROUNDS} rounds = ${total} runs; ${pinning}; ${fdNote}`);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const cell of selected) {
        const order = round % 2 ? libsOf(cell) : [...libsOf(cell)].reverse();
        for (const lib of order) {
          const t = Date.now();
          const before = ticks();
          const outcome = await measure(cell, lib, dir, traces?.dir ?? dir);
          outcome.otherLoad = otherLoad(before, ticks());
          results.get(cell)![lib].push(outcome);
          done++;
          const what = outcome.ok
            ? cell.metrics.filter((m) => !m.only || m.only === lib).map((m) => `${fmt(outcome.result.values[m.key])} ${m.label}`).join(', ') + (outcome.result.capped ? ' (capped)' : '')
            : `FAILED: ${outcome.error.split('\n')[0]}`;
          const other = outcome.otherLoad == null ? '' : `, other load ${pct(outcome.otherLoad)}`;
          console.error(`[${done}/${total}] round ${round} ${cell.name} — ${lib}: ${what} (${((Date.now() - t) / 1000).toFixed(1)} s${other})`);
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    if (traces) fs.rmSync(traces.dir, { recursive: true, force: true });
  }
  const seconds = (Date.now() - t0) / 1000;
  const loads = [...results.values()].flatMap((r) => ALL_LIBS.flatMap((l) => r[l].map((o) => o.otherLoad ?? null))).filter((x): x is number => x !== null);
  const load = { whole: otherLoad(ticks0, ticks()), maxRun: loads.length ? Math.max(...loads) : null };

  const rows: Row[] = [];
  for (const cell of selected) {
    const r = results.get(cell)!;
    for (const m of cell.metrics) {
      const per = (lib: Lib): Stats | null => (m.only && m.only !== lib ? null : stats(r[lib].flatMap((o) => (o.ok ? [o.result.values[m.key]] : []))));
      const a = per('node:net');
      const b = per('wasinet');
      const c = per('wasinet+record');
      const count = (f: (o: Outcome) => boolean) => Object.fromEntries(ALL_LIBS.map((l) => [l, r[l].filter(f).length])) as Record<Lib, number>;
      rows.push({
        cell: cell.name, metric: m.label, better: m.better, 'node:net': a, wasinet: b, 'wasinet+record': c,
        ratio: a && b && a.median > (m.floor ?? 0) && b.median > 0 ? b.median / a.median : null,
        recordRatio: b && c && b.median > 0 && c.median > 0 ? c.median / b.median : null,
        wide: [a, b, c].some((s) => s !== null && s.spread > WIDE),
        capped: count((o) => o.ok && o.result.capped),
        truncated: count((o) => o.ok && o.result.values.traceTruncated === 1),
        failures: Object.fromEntries(ALL_LIBS.map((l) => [l, r[l].flatMap((o) => (o.ok ? [] : [o.error]))])) as Record<Lib, string[]>,
        otherLoad: ALL_LIBS.flatMap((l) => r[l].map((o) => o.otherLoad ?? -1)).reduce((a, b) => Math.max(a, b), -1),
        only: m.only ?? null, libs: libsOf(cell),
      });
      if (rows[rows.length - 1].otherLoad! < 0) rows[rows.length - 1].otherLoad = null;
    }
  }

  const env = {
    date: new Date(t0).toISOString(), node: process.version, platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown', cpus, pinning, fds: fdNote, rounds: ROUNDS, quick: QUICK,
    only: ONLY?.source ?? null, runtime: RUNTIME, capMs: CAP_MS, seconds, otherLoad: load, traces: traces?.note ?? null,
  };
  fs.writeFileSync(path.join(here, RUNTIME === 'node' ? 'results.json' : `results-${RUNTIME}.json`), JSON.stringify({
    env,
    cells: selected.map((c) => ({ name: c.name, spec: c.spec, runs: results.get(c) })),
    rows,
  }, null, 2) + '\n');

  const out: string[] = [];
  const on = RUNTIME === 'node' ? '' : ` on ${RUNTIME} (its built-in node:net and wasinet on its own sockets; the peer is node:net on Node)`;
  out.push(`## wasinet vs node:net${on} — ${env.date}`, '');
  out.push(`Node ${env.node}, ${env.platform}, ${cpus} × ${env.cpu}. ${pinning}; ${fdNote}${traces ? `; ${traces.note}` : ''}.`);
  out.push(`${ROUNDS} round${ROUNDS > 1 ? 's' : ''}${QUICK ? ' (BENCH_QUICK: small sizes, a smoke run)' : ''}, a fresh worker and peer per cell, library and round; libraries interleaved. Time cap per cell ${CAP_MS / 1000} s.`);
  if (load.whole !== null) {
    out.push(`Other processes on the machine used ${pct(load.whole)} of its CPU time during the run (at most ${pct(load.maxRun ?? 0)} during one measurement; the last column gives the most during a cell's runs, the JSON each run's).`);
  }
  out.push(`Values: median (min–max) over the rounds. Ratio: wasinet median ÷ node:net median; the "better" column says which way is good for that metric. ⚠: a library's spread (max−min) exceeds ${WIDE * 100}% of its median.`, '');
  out.push('| cell | metric | better | node:net | wasinet | wasinet ÷ node:net | wasinet recording | recording ÷ wasinet | other load (max) |');
  out.push('|---|---|---|---|---|---|---|---|---|');
  const cellOf = (s: Stats | null, fails: string[]): string => {
    if (!s) return `FAILED (${fails.length}/${ROUNDS}): ${fails[0]?.split('\n')[0].replace(/\|/g, '\\|') ?? ''}`;
    const v = `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
    return fails.length ? `${v}; failed ${fails.length}/${ROUNDS}` : v;
  };
  const shown = (row: Row, lib: Lib): string => (row.libs.includes(lib) && (!row.only || row.only === lib) ? cellOf(row[lib], row.failures[lib]) : '—');
  for (const row of rows) {
    const tiny = row.ratio === null && row['node:net'] !== null && row.wasinet !== null;
    // A ratio to about nothing says nothing: the difference says what there is to say.
    const diff = tiny ? row.wasinet!.median - row['node:net']!.median : 0;
    const ratio = row.ratio !== null ? row.ratio.toFixed(2) + (row.wide ? ' ⚠' : '') : tiny ? `n/a (node:net ≈ 0; wasinet ${diff >= 0 ? '+' : '−'}${fmt(Math.abs(diff))})` : '—';
    const rec = row.recordRatio !== null ? row.recordRatio.toFixed(2) + (row.wide ? ' ⚠' : '') : '—';
    out.push(`| ${row.cell} | ${row.metric} | ${row.better} | ${shown(row, 'node:net')} | ${shown(row, 'wasinet')} | ${ratio} | ${shown(row, 'wasinet+record')} | ${rec} | ${row.otherLoad === null ? '—' : pct(row.otherLoad)} |`);
  }
  out.push('');
  const notes: string[] = [];
  for (const row of rows) {
    for (const lib of row.libs) {
      if (row.truncated[lib]) notes.push(`- ${row.cell} — ${lib}: the recording stopped early in ${row.truncated[lib]} of ${ROUNDS} runs (the trace writer fell more than maxPending bytes behind; the rate after that is not a recording's).`);
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
  out.push(`Whole run: ${seconds.toFixed(0)} s (${(seconds / 60).toFixed(1)} min). JSON: build/bench/${RUNTIME === 'node' ? 'results.json' : `results-${RUNTIME}.json`}.`);
  console.log(out.join('\n'));
  return rows;
}

await run();
