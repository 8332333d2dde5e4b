// The bench's worker: the process that runs the library under test, fresh for every
// measurement (pinned to its own CPU and given --expose-gc by bench/run.ts).
//   node --expose-gc build/bench/worker.js <node:net|wasinet|wasinet+record> '<WorkerInput JSON>'
// It imports only the library it measures — `node:net`, or `wasinet` (this package, by name:
// build/host/index.js; for wasinet+record, a stack of it that records a trace into the bench's
// directory: the trace's size is reported, and it is removed) — runs one cell against the
// node:net peer, and prints its last stdout
// line: { "result": WorkerResult } or { "error": "..." }. To drive the peer (when the library is
// the server) it prints { "peer": PeerCommand } lines and reads the replies on stdin; the
// orchestrator relays both.
import type NodeNet from 'node:net';
import path from 'node:path';
import fs from 'node:fs';
import { pluginEcho } from './plugin-cell.js';
import { cycles, onLines, openMany, sendLine, now, noop, sourceHeader, type Lib, type Endpoint, type Net, type PeerRequest, type PeerReply, type Spec, type WorkerInput, type WorkerResult } from './common.js';

const [lib, inputJson] = process.argv.slice(2);
if (lib !== 'node:net' && lib !== 'wasinet' && lib !== 'wasinet+record') throw new Error('usage: worker.js <node:net|wasinet|wasinet+record> <input JSON>');
const input = JSON.parse(inputJson) as WorkerInput;
const moduleName: string = lib === 'node:net' ? lib : 'wasinet'; // the package's own name
const mod = await import(moduleName);
const traceFile = path.join(input.traces, `trace-${process.pid}.trace`);
/** The recording stack's recorder (wasinet+record). */
let recording: { close(): Promise<void>; inputs: number; payloadBytes: number; keptBytes: number; truncated: boolean } | null = null;
let net: Net;
if (lib === 'wasinet+record') {
  const stack = mod.createStack({ record: { path: traceFile } });
  recording = stack.recorder;
  net = stack as Net;
} else {
  net = mod.default as Net;
}
// Deno gets --expose-gc through --v8-flags (bench/run.ts); Bun has its own collector call.
const bunGc = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
const gc = (globalThis as { gc?: () => void }).gc ?? (bunGc ? () => bunGc.gc(true) : undefined);
if (!gc) throw new Error('run the worker with --expose-gc');

const GiB = 2 ** 30;

// ---- talking to the peer (through the orchestrator) ----
let nextId = 1;
const pending = new Map<number, (r: PeerReply) => void>();
onLines(process.stdin, (m: { reply: PeerReply }) => pending.get(m.reply.id)?.(m.reply));
function peer(c: PeerRequest): Promise<PeerReply> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, (r) => {
      pending.delete(id);
      if (r.error) reject(new Error(`peer: ${r.error}`)); else resolve(r);
    });
    sendLine(process.stdout, { peer: { ...c, id } });
  });
}

// ---- helpers ----
function connected(to: Endpoint): Promise<NodeNet.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(to as NodeNet.NetConnectOpts);
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

function listening(server: NodeNet.Server, transport: Spec['transport']): Promise<Endpoint> {
  const where = transport === 'tcp'
    ? { host: '127.0.0.1', port: 0, backlog: 4096 }
    : { path: path.join(input.dir, `worker-${process.pid}.sock`), backlog: 4096 };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      const a = server.address();
      resolve(typeof a === 'string' ? { path: a } : { host: '127.0.0.1', port: a!.port });
    });
  });
}

/** CPU (user + system) and wall time of `run`, in ms. */
async function timed<T>(run: () => Promise<T>): Promise<{ value: T; cpuMs: number; ms: number }> {
  const c0 = process.cpuUsage();
  const t0 = now();
  const value = await run();
  const ms = now() - t0;
  const c = process.cpuUsage(c0);
  return { value, cpuMs: (c.user + c.system) / 1000, ms };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function memory(): Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number }> {
  for (let i = 0; i < 3; i++) { gc!(); await tick(); }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Resolves once `count()` reaches `n` (checked on every call of the returned poke). */
function until(count: () => number): { reached: (n: number) => Promise<void>; poke: () => void } {
  let want = Infinity;
  let done: (() => void) | null = null;
  const poke = (): void => { if (done && count() >= want) { const d = done; done = null; d(); } };
  return {
    reached: (n) => new Promise((resolve) => { want = n; done = resolve; poke(); }),
    poke,
  };
}

// ---- the cells ----

/** A createStack() stack whose policy has `rules` connect rules, the last one allowing `to`. */
async function policyStack(rules: number, to: Endpoint): Promise<Net> {
  const { createStack } = await import(moduleName) as { createStack(o: object): Net };
  if (rules === 0) return createStack({});
  const port = (to as { port?: number }).port ?? 0;
  const connect = Array.from({ length: rules - 1 }, (_, i) => i % 2 ? `10.${i}.0.0/16:${1000 + i}` : `svc${i}.internal:443`);
  connect.push(`127.0.0.1:${port}`);
  return createStack({ policy: { connect } });
}

/** connect + end + close: the library connects (client) or accepts (server). */
async function cycle(spec: Extract<Spec, { kind: 'cycle' }>): Promise<WorkerResult> {
  if (spec.role === 'client') {
    const to = input.peer[spec.transport].plain;
    const via = spec.policyRules !== undefined && lib === 'wasinet' ? await policyStack(spec.policyRules, to) : net;
    await cycles(via, to, spec.warmup, spec.parallel, spec.capMs);
    const t = await timed(() => cycles(via, to, spec.count, spec.parallel, spec.capMs));
    const { n, capped } = t.value;
    return { values: { rate: n / (t.ms / 1000) }, capped, n, ms: t.ms, cpuMs: t.cpuMs };
  }
  // The library accepts; node:net clients in the peer connect and end; the server ends back
  // (allowHalfOpen false). Timed from the first accept to the last server-side 'close'.
  let closes = 0;
  let first = 0;
  let last = 0;
  const closed = until(() => closes);
  const server = net.createServer((s) => {
    if (!first) first = now();
    s.on('error', noop);
    s.on('close', () => { closes++; last = now(); closed.poke(); });
    s.resume();
  });
  const at = await listening(server, spec.transport);
  const warm = await peer({ cmd: 'cycle', to: at, count: spec.warmup, parallel: spec.parallel, capMs: spec.capMs });
  await closed.reached(warm.n);
  closes = 0;
  first = 0;
  const t = await timed(async () => {
    const r = await peer({ cmd: 'cycle', to: at, count: spec.count, parallel: spec.parallel, capMs: spec.capMs });
    await closed.reached(r.n);
    return r.n;
  });
  const n = t.value;
  const ms = last - first;
  return { values: { rate: n / (ms / 1000) }, capped: n < spec.count, n, ms, cpuMs: t.cpuMs };
}

/** Opens `count` connections and keeps them open: the time that takes, and memory per connection. */
async function hold(spec: Extract<Spec, { kind: 'hold' }>): Promise<WorkerResult> {
  let sockets: NodeNet.Socket[] = [];
  let ms: number;
  let cpuMs: number;
  let before: Awaited<ReturnType<typeof memory>>;
  if (spec.role === 'client') {
    const to = input.peer[spec.transport].plain;
    const warm = await openMany(net, to, spec.warmup, spec.window);
    await Promise.all(warm.map((s) => new Promise((r) => { s.once('close', r); s.destroy(); })));
    before = await memory();
    const t = await timed(() => openMany(net, to, spec.count, spec.window));
    sockets = t.value;
    ms = t.ms;
    cpuMs = t.cpuMs;
  } else {
    // Timed from the first accept to the count-th.
    let first = 0;
    let last = 0;
    let closes = 0;
    const accepted = until(() => sockets.length);
    const closed = until(() => closes);
    const server = net.createServer((s) => {
      if (!first) first = now();
      last = now();
      sockets.push(s);
      s.on('error', noop);
      s.on('close', () => { closes++; closed.poke(); });
      s.resume();
      accepted.poke();
    });
    const at = await listening(server, spec.transport);
    const warm = await peer({ cmd: 'hold', to: at, count: spec.warmup, window: spec.window });
    await accepted.reached(warm.n);
    await peer({ cmd: 'release' });
    await closed.reached(warm.n);
    sockets = [];
    first = 0;
    before = await memory();
    const t = await timed(async () => {
      const r = await peer({ cmd: 'hold', to: at, count: spec.count, window: spec.window });
      await accepted.reached(r.n);
    });
    ms = last - first;
    cpuMs = t.cpuMs;
  }
  await sleep(200);
  const after = await memory();
  const n = sockets.length;
  const open = sockets.filter((s) => !s.destroyed).length;
  if (open !== spec.count) throw new Error(`${open} of ${spec.count} connections open`);
  return {
    values: {
      openMs: ms,
      rss: (after.rss - before.rss) / n,
      heapUsed: (after.heapUsed - before.heapUsed) / n,
      external: (after.external - before.external) / n,
      arrayBuffers: (after.arrayBuffers - before.arrayBuffers) / n,
    },
    capped: false, n, ms, cpuMs,
  };
}

/** Writes up to `total` bytes in `chunk`-byte writes (stopping after `capMs`), ends, checks the sink's count. */
async function sendTo(to: Endpoint, chunk: number, total: number, capMs: number): Promise<{ bytes: number; capped: boolean; ms: number; cpuMs: number }> {
  const s = await connected(to);
  const buf = Buffer.alloc(chunk, 1);
  const t = await timed(async () => {
    const deadline = now() + capMs;
    let sent = 0;
    let i = 0;
    let capped = false;
    while (sent < total) {
      if ((++i & 63) === 0 && now() > deadline) { capped = true; break; }
      const b = total - sent >= chunk ? buf : buf.subarray(0, total - sent);
      sent += b.length;
      if (!s.write(b)) await new Promise((r) => s.once('drain', r));
    }
    s.end();
    let answer = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => { answer += d; });
    await new Promise((r) => s.once('end', r));
    if (Number(answer) !== sent) throw new Error(`sink got ${answer} of ${sent} bytes`);
    return { sent, capped };
  });
  s.destroy();
  return { bytes: t.value.sent, capped: t.value.capped, ms: t.ms, cpuMs: t.cpuMs };
}

/** Asks the source for `total` bytes in `chunk`-byte writes and reads them to the end. */
async function receiveFrom(to: Endpoint, chunk: number, total: number, capMs: number): Promise<{ bytes: number; capped: boolean; ms: number; cpuMs: number }> {
  const s = await connected(to);
  const t = await timed(async () => {
    let got = 0;
    s.on('data', (d: Buffer) => { got += d.length; });
    const ended = new Promise((r) => s.once('end', r));
    s.write(sourceHeader(chunk, capMs, total));
    await ended;
    return got;
  });
  s.destroy();
  return { bytes: t.value, capped: t.value < total, ms: t.ms, cpuMs: t.cpuMs };
}

async function stream(spec: Extract<Spec, { kind: 'send' | 'receive' }>): Promise<WorkerResult> {
  const ends = input.peer[spec.transport];
  const run = spec.kind === 'send'
    ? (total: number) => sendTo(ends.sink, spec.chunk, total, spec.capMs)
    : (total: number) => receiveFrom(ends.source, spec.chunk, total, spec.capMs);
  await run(spec.warmup);
  const r = await run(spec.total);
  return {
    values: { mbps: r.bytes / 1e6 / (r.ms / 1000), cpuPerGiB: r.cpuMs / (r.bytes / GiB) },
    capped: r.capped, n: r.bytes, ms: r.ms, cpuMs: r.cpuMs,
  };
}

/** 1-byte round trips: write one byte, wait for it to come back, repeat. */
async function echo(spec: Extract<Spec, { kind: 'echo' }>): Promise<WorkerResult> {
  const s = await connected(input.peer[spec.transport].echo);
  s.setNoDelay(true);
  const one = Buffer.from([42]);
  const rounds = (count: number): Promise<number> => new Promise((resolve) => {
    const deadline = now() + spec.capMs;
    let done = 0;
    const onData = (d: Buffer): void => {
      done += d.length;
      if (done >= count || now() > deadline) { s.off('data', onData); resolve(done); } else s.write(one);
    };
    s.on('data', onData);
    s.write(one);
  });
  await rounds(spec.warmup);
  const t = await timed(() => rounds(spec.count));
  s.destroy();
  const n = t.value;
  return { values: { rate: n / (t.ms / 1000), cpuPer10k: t.cpuMs / (n / 1e4) }, capped: n < spec.count, n, ms: t.ms, cpuMs: t.cpuMs };
}

async function main(spec: Spec): Promise<WorkerResult> {
  switch (spec.kind) {
    case 'cycle': return cycle(spec);
    case 'hold': return hold(spec);
    case 'send': case 'receive': return stream(spec);
    case 'echo': return echo(spec);
    case 'plugin-echo': return pluginEcho(spec, lib as Lib, peer, timed);
  }
}

/** For wasinet+record: closes the trace and adds its size to the result (and removes it). */
async function traced(result: WorkerResult): Promise<WorkerResult> {
  if (recording === null) return result;
  await recording.close();
  const size = fs.statSync(traceFile).size;
  fs.rmSync(traceFile, { force: true });
  result.values.traceRatio = size / Math.max(1, recording.payloadBytes);
  // Beyond the payload bytes the trace holds (of a long write, only its head: RecordOptions.writeHead).
  result.values.bytesPerInput = (size - recording.keptBytes) / recording.inputs;
  result.values.traceMB = size / 1e6;
  result.values.traceTruncated = recording.truncated ? 1 : 0;
  return result;
}

main(input.spec).then(traced).then(
  (result) => process.stdout.write(JSON.stringify({ result }) + '\n', () => process.exit(0)),
  (e: Error) => {
    console.error(e?.stack ?? e);
    process.stdout.write(JSON.stringify({ error: String(e?.message ?? e) }) + '\n', () => process.exit(0));
  },
);
