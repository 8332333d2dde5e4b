// Run by tests/host/runtimes.test.ts on Deno and Bun: an application recorded on the runtime's
// own sockets and replayed offline on it. The client writes one byte per setImmediate to a
// server whose socket has an idle timeout (each byte's data event comes before the client's
// next setImmediate): the replay must play each event where it came, with the core in the
// recorded state throughout. Prints one JSON line: the reply, and each replay's outcome.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStack, formatAppDivergence } from '../../host/index.js';
import { drip } from '../host/apps/drip.js';

setTimeout(() => { process.stdout.write(JSON.stringify({ timeout: true }) + '\n'); process.exit(1); }, 20_000).unref?.();

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
