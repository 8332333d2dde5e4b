// Run by tests/host/runtimes.test.ts on Deno and Bun: an application recorded on the runtime's
// own sockets and replayed offline on it. The client writes one byte per setImmediate to a
// server whose socket has an idle timeout (each byte's data event comes before the client's
// next setImmediate): the replay must play each event where it came, with the core in the
// recorded state throughout. Prints one JSON line: the reply, and each replay's outcome.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStack, formatAppDivergence, type StackApi } from '../../host/index.js';

setTimeout(() => { process.stdout.write(JSON.stringify({ timeout: true }) + '\n'); process.exit(1); }, 20_000).unref?.();

async function drip(net: StackApi): Promise<string> {
  const server = net.createServer((s) => {
    s.setTimeout(5000);
    let n = 0;
    s.on('data', (d: Buffer) => { n += d.length; });
    s.on('end', () => s.end(`got ${n}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const c = net.connect((server.address() as { port: number }).port, '127.0.0.1');
  c.setNoDelay(true);
  let reply = '';
  c.on('data', (d: Buffer) => { reply += d; });
  c.on('connect', () => {
    let i = 0;
    const tick = (): void => { if (i++ < 40) { c.write('x'); setImmediate(tick); } else c.end(); };
    tick();
  });
  await new Promise((r) => c.on('close', r));
  await new Promise((r) => server.close(r));
  return reply;
}

const path = join(tmpdir(), `wasinet-drip-${process.pid}-${Date.now()}.trace`);
const rec = createStack({ record: path });
const reply = await drip(rec);
await rec.recorder!.close();
const replays: string[] = [];
for (let i = 0; i < 3; i++) {
  let diverged: string | null = null;
  const net = createStack({ replay: { path, wait: 1000, onDivergence: (d) => { diverged = formatAppDivergence(d); } } });
  const again = drip(net);
  const done = await net.replay!.done;
  replays.push(diverged ?? (done.ok && done.inputs === done.total && (await again) === reply ? 'ok' : `not ok: ${JSON.stringify(done)}`));
}
process.stdout.write(JSON.stringify({ reply, replays }) + '\n');
process.exit(0);
