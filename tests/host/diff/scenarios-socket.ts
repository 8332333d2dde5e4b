// Differential scenarios for net.Socket and net.connect (issue 3). Each runs once with node:net
// and once with wasinet as `net`; the far side is `peer` (node:net) unless the scenario says
// otherwise. Keep them deterministic: log only what both libraries must agree on.
import type { Scenario, Context } from './harness.js';
import type { Socket, Server } from 'node:net';

/** A peer server on 127.0.0.1 with `onConn`; resolves with [server, port]. */
export async function peerServer(ctx: Context, onConn: (s: Socket) => void, opts: object = {}): Promise<[Server, number]> {
  const server = ctx.peer.createServer(opts, onConn);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return [server, (server.address() as { port: number }).port];
}

export function closedP(e: { once(ev: 'close', f: (...a: unknown[]) => void): unknown }): Promise<void> {
  return new Promise((r) => e.once('close', () => r()));
}

export const socketScenarios: Scenario[] = [
  {
    name: 'connect, write, end: client event order',
    async run(ctx) {
      const [server, port] = await peerServer(ctx, (s) => { s.resume(); s.on('end', () => s.end('bye')); });
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      ctx.log.note('client', `write -> ${c.write('hello')} bufferSize=${c.bufferSize} bytesWritten=${c.bytesWritten} pending=${c.pending} readyState=${c.readyState}`);
      c.end();
      ctx.log.note('client', `after end readyState=${c.readyState} writableLength=${c.writableLength}`);
      await closedP(c);
      ctx.log.note('client', `closed bytesRead=${c.bytesRead} bytesWritten=${c.bytesWritten} readyState=${c.readyState} destroyed=${c.destroyed}`);
      server.close();
    },
  },
  {
    name: 'ECONNREFUSED: error then close(true), with Node fields',
    async run(ctx) {
      const probe = ctx.peer.createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
      const port = (probe.address() as { port: number }).port;
      await new Promise((r) => probe.close(r));
      const c = ctx.net.connect(port, '127.0.0.1');
      ctx.log.watch(c, 'client');
      await closedP(c);
      ctx.log.note('client', `destroyed=${c.destroyed} readyState=${c.readyState}`);
    },
  },
];
