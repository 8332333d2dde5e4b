// Small helpers shared by the socket scenarios.
import type { Socket, Server } from 'node:net';
import type { Context } from './harness.js';
import { summarize } from './harness.js';

/** What a socket says of itself: addresses, state flags and counters, in one line. */
export function props(s: Socket): string {
  const x = s as Socket & { pending: boolean; readyState: string };
  return [
    `local=${x.localAddress}/${x.localPort}/${x.localFamily}`,
    `remote=${x.remoteAddress}/${x.remotePort}/${x.remoteFamily}`,
    `address()=${JSON.stringify(x.address())}`,
    `connecting=${x.connecting} pending=${x.pending} destroyed=${x.destroyed} readyState=${x.readyState}`,
    `bufferSize=${x.bufferSize} bytesRead=${x.bytesRead} bytesWritten=${x.bytesWritten}`,
  ].join(' ');
}

/** Runs `fn` and describes what it threw (or returned). */
export function thrown(fn: () => unknown): string {
  try {
    const r = fn();
    return `no throw (${r === undefined ? 'undefined' : typeof r})`;
  } catch (e) {
    return `throws ${summarize(e)}`;
  }
}

/** A port that nothing listens on (bound by a peer server, then closed). */
export async function freePort(ctx: Context, host = '127.0.0.1'): Promise<number> {
  return (await freePorts(ctx, 1, host))[0];
}

/**
 * `n` different free ports: their probes stay open until all are picked (the kernel may give a
 * port just closed to the next listen(0), and a client bound to the port it connects to
 * connects to itself).
 */
export async function freePorts(ctx: Context, n: number, host = '127.0.0.1'): Promise<number[]> {
  const probes = Array.from({ length: n }, () => ctx.peer.createServer());
  for (const probe of probes) await new Promise<void>((r) => probe.listen(0, host, () => r()));
  const ports = probes.map((probe) => (probe.address() as { port: number }).port);
  for (const probe of probes) await new Promise((r) => probe.close(r));
  return ports;
}

/** Resolves with the first emission of `ev`. */
export function once<T = unknown>(e: { once(ev: string, f: (...a: any[]) => void): unknown }, ev: string): Promise<T> {
  return new Promise((r) => e.once(ev, (a: T) => r(a)));
}

const accepted = new WeakMap<Server, { s: Socket; closed: boolean }[]>();

/** Remembers the connections `server` accepts, so stop() can wait for each to be closed. */
export function trackConnections(server: Server): Server {
  const list: { s: Socket; closed: boolean }[] = [];
  accepted.set(server, list);
  // Unref'd, like the server itself, so that a scenario left hanging by the library under test
  // (the harness times it out) does not keep the test process alive.
  server.unref();
  server.on('connection', (s: Socket) => {
    s.unref();
    const entry = { s, closed: false };
    list.push(entry);
    s.once('close', () => { entry.closed = true; });
  });
  return server;
}

/** A peer server on 127.0.0.1 (connections tracked); resolves with [server, port]. */
export async function serve(ctx: Context, onConn: (s: Socket) => void, opts: object = {}): Promise<[Server, number]> {
  const server = trackConnections(ctx.peer.createServer(opts, onConn));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return [server, (server.address() as { port: number }).port];
}

/** A peer server on a fresh Unix path (connections tracked); resolves with [server, path]. */
export async function servePipe(ctx: Context, onConn: (s: Socket) => void, opts: object = {}): Promise<[Server, string]> {
  const path = ctx.path();
  const server = trackConnections(ctx.peer.createServer(opts, onConn));
  await new Promise<void>((r) => server.listen(path, () => r()));
  return [server, path];
}

/** Closes `server`; resolves once it is closed and every connection it accepted has emitted 'close'. */
export async function stop(server: Server): Promise<void> {
  await new Promise<void>((r) => server.close(() => r()));
  for (const entry of accepted.get(server) ?? []) {
    if (!entry.closed) await new Promise<void>((r) => entry.s.once('close', () => r()));
  }
}
