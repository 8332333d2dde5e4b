// The portable host, checked inside whatever runtime executes this file (Node, Deno, Bun):
// wasinet loads; the default stack uses the runtime's own backend; a simulated network runs
// (createStack({ backend: 'sim' })); and the default exports carry bytes over real loopback TCP
// and a Unix socket, half-closed both ways, every byte checked; a stack that records does the
// same, and its trace replays. Prints one JSON object;
// tests/host/runtimes.test.ts spawns it on each runtime.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net, { createStack, replay } from '../../host/index.js';
import { stackOf } from '../../host/net/create.js';

const SIZE = 4 << 20;

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 11)) & 0xff;
  return b;
}

/** Echo server; the client sends `data`, ends, and gets it all back before the server's FIN. */
async function echo(lib: typeof net, listenArgs: unknown[], connectArgs: unknown[], data: Buffer): Promise<string> {
  const server = lib.createServer({ allowHalfOpen: true }, (s) => { s.pipe(s); });
  await new Promise<void>((r) => (server.listen as (...a: unknown[]) => void)(...listenArgs, () => r()));
  const target = connectArgs.length ? connectArgs : [(server.address() as { port: number }).port, '127.0.0.1'];
  const chunks: Buffer[] = [];
  const events: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const c = (lib.connect as (...a: unknown[]) => ReturnType<typeof net.connect>)(...target);
    c.on('error', reject);
    c.on('connect', () => { events.push('connect'); c.end(data); });
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('end', () => events.push('end'));
    c.on('finish', () => events.push('finish'));
    c.on('close', (hadError: boolean) => { events.push(`close ${hadError}`); resolve(); });
  });
  await new Promise<void>((r) => server.close(() => r()));
  const got = Buffer.concat(chunks);
  return `${got.equals(data) ? 'equal' : `DIFFERENT (${got.length} of ${data.length} bytes)`} ${[...new Set(events)].sort().join(',')}`;
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = {};
  out.backend = stackOf(createStack()).backend.kind;
  const sim = createStack({ backend: 'sim', seed: 7, latency: [1, 20], sndbuf: 1 });
  out.sim = await echo(sim as unknown as typeof net, [80], [80, '127.0.0.1'], pattern(3000)).then(async (r) => { await sim.run(); return `${r} t=${sim.now()}`; });
  out.tcp = await echo(net, [0, '127.0.0.1'], [], pattern(SIZE));
  const dir = mkdtempSync(join(tmpdir(), 'wasinet-portable-'));
  const path = join(dir, 's.sock');
  out.unix = await echo(net, [path], [path], pattern(SIZE));
  // Recording on the runtime's own sockets (the trace writer's thread), replayed on the spot.
  const file = join(dir, 'r.trace');
  const recorded = createStack({ record: file });
  const r = await echo(recorded as unknown as typeof net, [0, '127.0.0.1'], [], pattern(SIZE));
  await recorded.recorder!.close();
  const again = replay(file);
  out.record = `${r} truncated ${recorded.recorder!.truncated} replay ${again.ok ? 'identical' : 'diverged'} ${again.inputs === recorded.recorder!.inputs ? 'every input' : `${again.inputs} of ${recorded.recorder!.inputs} inputs`}`;
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}

void main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err?.stack ?? err) }) + '\n', () => process.exit(1));
});
