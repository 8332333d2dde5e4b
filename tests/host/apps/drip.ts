// A client that writes one byte per setImmediate (each write a turn of its own) to a server whose
// socket has an idle timeout, for the application-replay tests (replay-app.test.ts, and
// tests/runtimes/replay-drip.ts on Deno and Bun). On real sockets each byte's data event comes
// where the loop polls for I/O, before the client's next setImmediate. Returns the server's
// reply, "got 40".
import type NodeNet from 'node:net';

type Net = Pick<typeof NodeNet, 'createServer' | 'connect'>;

export async function drip(net: Net): Promise<string> {
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
    const tick = (): void => {
      if (i++ < 40) { c.write('x'); setImmediate(tick); } else c.end();
    };
    tick();
  });
  await new Promise((r) => c.on('close', r));
  await new Promise((r) => server.close(r));
  return reply;
}
