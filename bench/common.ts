// Shared by the bench's three processes (bench/run.ts orchestrates, bench/worker.ts runs the
// library under test, bench/peer.ts is the node:net peer): the cell descriptions, the messages
// they exchange as JSON lines, and the client loops both the worker and the peer use.
import type NodeNet from 'node:net';
import type { Readable } from 'node:stream';

export type Net = typeof NodeNet;
/** 'wasinet+record': wasinet on a stack that records a trace (format 2) into the bench's directory. */
export type Lib = 'node:net' | 'wasinet' | 'wasinet+record';
export type Transport = 'tcp' | 'unix';
/** Where to connect: a TCP port on 127.0.0.1 or a Unix socket path. */
export type Endpoint = { host: string; port: number } | { path: string };

/** What one worker process measures. */
export type Spec =
  /** connect + end + close, `count` times over `parallel` concurrent clients. */
  | { kind: 'cycle'; transport: Transport; role: 'client' | 'server'; count: number; parallel: number; capMs: number; warmup: number;
      /** wasinet only: connect through a createStack() stack with this many policy rules (0: none). */
      policyRules?: number }
  /** Opens `count` connections (at most `window` connecting at once) and keeps them open; memory per connection. */
  | { kind: 'hold'; transport: Transport; role: 'client' | 'server'; count: number; window: number; warmup: number }
  /** The worker writes `total` bytes in `chunk`-byte writes to the peer's sink. */
  | { kind: 'send'; transport: Transport; chunk: number; total: number; capMs: number; warmup: number }
  /** The peer writes `total` bytes in `chunk`-byte writes to the worker. */
  | { kind: 'receive'; transport: Transport; chunk: number; total: number; capMs: number; warmup: number }
  /** 1-byte round trips against the peer's echo server, setNoDelay(true). */
  | { kind: 'echo'; transport: Transport; count: number; capMs: number; warmup: number }
  /** An echo server in the library (wasinet: the echo plugin) driven by the peer: cycles, or `count` bytes pumped through (bench/plugin-cell.ts). */
  | { kind: 'plugin-echo'; transport: 'tcp'; mode: 'cycle' | 'pump'; count: number; parallel: number; chunk: number; capMs: number; warmup: number };

/** The peer's servers, announced in its first line: `{ "ready": PeerEndpoints }`. */
export type PeerEndpoints = Record<Transport, { sink: Endpoint; source: Endpoint; echo: Endpoint; plain: Endpoint }>;

/** What the orchestrator hands a worker (as its third argument, JSON). */
/** `traces`: the directory wasinet+record writes its trace into. */
export interface WorkerInput { spec: Spec; peer: PeerEndpoints; dir: string; traces: string }

/** Commands a worker sends the peer (a `{ "peer": PeerCommand }` line, relayed by the orchestrator). */
export type PeerRequest =
  | { cmd: 'cycle'; to: Endpoint; count: number; parallel: number; capMs: number }
  | { cmd: 'hold'; to: Endpoint; count: number; window: number }
  | { cmd: 'release' }
  | { cmd: 'pump'; to: Endpoint; total: number; chunk: number; capMs: number };
export type PeerCommand = PeerRequest & { id: number };
/** The peer's answer (a `{ "reply": ... }` line, relayed to the worker's stdin). */
export interface PeerReply { id: number; n: number; ms: number; error?: string }

/** A worker's last line: `{ "result": WorkerResult }` or `{ "error": "..." }`. */
export interface WorkerResult {
  /** The measured values, by metric key (see the cells in bench/run.ts). */
  values: Record<string, number>;
  /** True when the time cap stopped the cell before its count. */
  capped: boolean;
  /** How many operations (connections, bytes, round trips) were measured. */
  n: number;
  /** Wall time of the measured part. */
  ms: number;
  /** User + system CPU time of the worker process during the measured part. */
  cpuMs: number;
}

export const now = (): number => performance.now();
export const noop = (): void => {};

/** Calls `onLine` with each JSON line `stream` carries. */
export function onLines(stream: Readable, onLine: (msg: any) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) onLine(JSON.parse(line));
    }
  });
}

export function sendLine(stream: NodeJS.WritableStream, msg: unknown): void {
  stream.write(JSON.stringify(msg) + '\n');
}

/** One connection: connect, end at once, resolve when closed (the server ends back). */
export function cycleOnce(net: Net, to: Endpoint): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(to as NodeNet.NetConnectOpts);
    s.on('connect', () => s.end());
    s.on('error', reject);
    s.on('close', (hadError) => { if (!hadError) resolve(); });
    s.resume();
  });
}

/** connect + end + close `count` times with `parallel` clients, stopping early after `capMs`. */
export async function cycles(net: Net, to: Endpoint, count: number, parallel: number, capMs: number): Promise<{ n: number; ms: number; capped: boolean }> {
  const t0 = now();
  const deadline = t0 + capMs;
  let started = 0;
  let done = 0;
  let capped = false;
  const lane = async (): Promise<void> => {
    while (started < count) {
      if (now() > deadline) { capped = true; return; }
      started++;
      await cycleOnce(net, to);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return { n: done, ms: now() - t0, capped };
}

/** Opens `count` connections, at most `window` connecting at once; resolves with them, open. */
export async function openMany(net: Net, to: Endpoint, count: number, window: number): Promise<NodeNet.Socket[]> {
  const sockets: NodeNet.Socket[] = [];
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < count) {
      started++;
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(to as NodeNet.NetConnectOpts);
        s.once('connect', () => { s.off('error', reject); s.on('error', noop); resolve(); });
        s.once('error', reject);
        s.resume();
        sockets.push(s);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  return sockets;
}

/** The 16-byte request a worker sends the peer's source: chunk size, time cap, total bytes. */
export function sourceHeader(chunk: number, capMs: number, total: number): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32LE(chunk, 0);
  head.writeUInt32LE(capMs, 4);
  head.writeDoubleLE(total, 8);
  return head;
}
