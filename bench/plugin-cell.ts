// The plugin cells of the bench (bench/run.ts, "echo server"): an echo server in the worker
// process — a node:net one (`s.pipe(s)`, allowHalfOpen) for node:net, the echo plugin
// (build/plugins/echo.wasm in its own thread through loadPlugin) for wasinet — and the node:net
// peer driving it: connect+end+close cycles (connection rate) or one connection pumping bytes
// through it (echo throughput). The worker's CPU time counts every thread, the plugin's too.
import NodeNet from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lib, PeerRequest, PeerReply, Spec, WorkerResult } from './common.js';

type PluginSpec = Extract<Spec, { kind: 'plugin-echo' }>;
type Timed = <T>(run: () => Promise<T>) => Promise<{ value: T; cpuMs: number; ms: number }>;

const echoWasm = path.join(path.dirname(fileURLToPath(import.meta.url)), '../plugins/echo.wasm');

/** Starts the library's echo server on 127.0.0.1; its port and how to stop it. */
async function echoServer(lib: Lib): Promise<{ port: number; stop: () => Promise<unknown> }> {
  if (lib === 'node:net') {
    const server = NodeNet.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.pipe(s); });
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, r));
    return { port: (server.address() as NodeNet.AddressInfo).port, stop: () => new Promise((r) => server.close(r)) };
  }
  const { loadPlugin } = await import('../host/plugin/load.js');
  let out = '';
  const plugin = loadPlugin(echoWasm, { args: ['0'], stdout: (t) => { out += t; } });
  const deadline = Date.now() + 10_000;
  while (!/listening.*:(\d+)/.test(out)) {
    if (Date.now() > deadline) throw new Error(`the echo plugin did not listen: ${out}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { port: Number(/listening.*:(\d+)/.exec(out)![1]), stop: () => plugin.stop() };
}

export async function pluginEcho(spec: PluginSpec, lib: Lib, peer: (c: PeerRequest) => Promise<PeerReply>, timed: Timed): Promise<WorkerResult> {
  const server = await echoServer(lib);
  const to = { host: '127.0.0.1', port: server.port };
  try {
    if (spec.mode === 'cycle') {
      await peer({ cmd: 'cycle', to, count: spec.warmup, parallel: spec.parallel, capMs: spec.capMs });
      const t = await timed(() => peer({ cmd: 'cycle', to, count: spec.count, parallel: spec.parallel, capMs: spec.capMs }));
      const { n, ms } = t.value;
      return { values: { rate: n / (ms / 1000) }, capped: n < spec.count, n, ms, cpuMs: t.cpuMs };
    }
    await peer({ cmd: 'pump', to, total: spec.warmup, chunk: spec.chunk, capMs: spec.capMs });
    const t = await timed(() => peer({ cmd: 'pump', to, total: spec.count, chunk: spec.chunk, capMs: spec.capMs }));
    const { n, ms } = t.value;
    return { values: { mbps: n / 1e6 / (ms / 1000), cpuPerGiB: t.cpuMs / (n / 2 ** 30) }, capped: n < spec.count, n, ms, cpuMs: t.cpuMs };
  } finally {
    await server.stop();
  }
}

/** The peer's side of 'pump': writes `total` bytes in `chunk`s through an echo server (stopping early after capMs), ends, and counts the echo until its end. */
export function pump(net: typeof NodeNet, c: Extract<PeerRequest, { cmd: 'pump' }>): Promise<{ n: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = net.connect(c.to as NodeNet.NetConnectOpts);
    const block = Buffer.alloc(c.chunk, 0x5a);
    let sent = 0, echoed = 0;
    s.on('error', reject);
    s.on('data', (d: Buffer) => { echoed += d.length; });
    s.on('end', () => {
      if (echoed !== sent) reject(new Error(`echoed ${echoed} of ${sent} bytes`));
      else resolve({ n: echoed, ms: performance.now() - t0 });
      s.destroy();
    });
    const write = (): void => {
      while (sent < c.total && performance.now() - t0 < c.capMs) {
        const n = Math.min(c.chunk, c.total - sent);
        sent += n;
        if (!s.write(n === c.chunk ? block : block.subarray(0, n))) { s.once('drain', write); return; }
      }
      s.end();
    };
    s.once('connect', write);
  });
}
