// `npm start`: wasinet servers and clients on real sockets, every byte through the Wasm core.
// A TCP server and a Unix-socket server echo what their clients send; the clients check the
// bytes, and the demo prints bytes moved, time taken and the event sequence of one connection.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from '../host/index.js';

type Sock = InstanceType<typeof net.Socket>;

const SIZE = 32 * 1024 * 1024;

function echoServer(): InstanceType<typeof net.Server> {
  return net.createServer((s: Sock) => s.pipe(s));
}

/** Sends SIZE bytes, reads them back, checks them; returns [ms, events of the client]. */
async function roundTrip(connect: () => Sock): Promise<{ ms: number; events: string[]; ok: boolean }> {
  const events: string[] = [];
  const start = performance.now();
  const c = connect();
  for (const ev of ['lookup', 'connectionAttempt', 'connect', 'ready', 'drain', 'finish', 'end', 'close'])
    c.on(ev, () => { if (!events.includes(ev) || ev !== 'drain') events.push(ev); });
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let received = 0;
  c.on('data', (d: Buffer) => { got.update(d); received += d.length; });
  const chunk = Buffer.alloc(256 * 1024);
  let written = 0;
  while (written < SIZE) {
    for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((written + i) >>> 2, i);
    sent.update(chunk);
    written += chunk.length;
    if (!c.write(chunk)) await new Promise((r) => c.once('drain', r));
  }
  c.end();
  await new Promise((r) => c.once('close', r));
  return { ms: performance.now() - start, events, ok: received === SIZE && sent.digest('hex') === got.digest('hex') };
}

async function main(): Promise<void> {
  const tcp = echoServer();
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (tcp.address() as { port: number }).port;
  const t = await roundTrip(() => net.connect(port, '127.0.0.1'));
  tcp.close();

  const dir = mkdtempSync(join(tmpdir(), 'wasinet-demo-'));
  const path = join(dir, 'echo.sock');
  const ipc = echoServer();
  await new Promise<void>((r) => ipc.listen(path, r));
  const u = await roundTrip(() => net.connect(path));
  await new Promise((r) => ipc.close(r));
  rmSync(dir, { recursive: true, force: true });

  const mib = SIZE / 1024 / 1024;
  const line = (name: string, r: { ms: number; ok: boolean }) =>
    `${name}: ${mib} MiB each way in ${r.ms.toFixed(0)} ms (${((2 * SIZE) / 1e6 / (r.ms / 1000)).toFixed(0)} MB/s both ways), bytes ${r.ok ? 'identical' : 'DIFFER'}`;
  console.log('wasinet demo: echo servers and clients, every byte through the Wasm core');
  console.log(line('TCP 127.0.0.1', t));
  console.log(line(`Unix socket ${path}`, u));
  console.log(`events of the TCP client, in order: ${t.events.join(' -> ')}`);
  if (!t.ok || !u.ok) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
