import assert from 'node:assert/strict';
// Shared by the end-to-end tests: temp paths, deterministic payloads, hashing, event logs.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEmitter } from 'node:events';
import nodeNetModule from 'node:net';
import wasinetModule from '../../host/index.js';

let dir: string | null = null;
let n = 0;

/** A fresh Unix socket path in a temp dir of this test run. */
export function sockPath(name = 's'): string {
  dir ??= mkdtempSync(join(process.env.WASINET_TEST_TMP ?? tmpdir(), 'sock-'));
  return join(dir, `${name}-${process.pid}-${n++}.sock`);
}

/** `size` bytes of a deterministic stream for `seed`, in chunks of `chunk` bytes. */
export function* pattern(seed: number, size: number, chunk = 65536): Generator<Buffer> {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let off = 0; off < size; off += chunk) {
    const n = Math.min(chunk, size - off);
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      b.writeUInt32LE(x, i <= n - 4 ? i : n - 4);
    }
    yield b;
  }
}

export function patternHash(seed: number, size: number): string {
  const h = createHash('sha256');
  for (const b of pattern(seed, size)) h.update(b);
  return h.digest('hex');
}

interface Writable { write(b: Buffer): boolean; end(): void; once(ev: string, f: () => void): unknown }

/** Writes the pattern with backpressure (waits for 'drain'), then ends. */
export async function sendPattern(w: Writable, seed: number, size: number): Promise<void> {
  for (const b of pattern(seed, size)) {
    if (!w.write(b)) await new Promise<void>((r) => w.once('drain', r));
  }
  w.end();
}

/** Hashes everything a readable gives until 'end'. */
export function hashUntilEnd(r: EventEmitter): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    r.on('data', (d: Buffer) => { h.update(d); bytes += d.length; });
    r.once('end', () => resolve({ hash: h.digest('hex'), bytes }));
    r.once('error', reject);
  });
}

/** Records the order of events on an emitter: names plus a short argument summary. */
export function eventLog(e: EventEmitter, names: string[], label = ''): string[] {
  const log: string[] = [];
  for (const name of names) {
    e.on(name, (...args: unknown[]) => {
      const summary = args.map((a) => a instanceof Error ? (a as NodeJS.ErrnoException).code ?? a.message
        : Buffer.isBuffer(a) ? `<${a.length}>` : String(a)).join(' ');
      log.push(`${label}${name}${summary ? ` ${summary}` : ''}`);
    });
  }
  return log;
}

export function closed(e: EventEmitter): Promise<unknown[]> {
  return new Promise((resolve) => e.once('close', (...a: unknown[]) => resolve(a)));
}

// ---------------------------------------------------------------- shared by the socket-*.test files

/** A net module: node:net itself, or wasinet typed as one (same API). */
export type Net = typeof nodeNetModule;

/** Both libraries under test: every behaviour test runs once per entry, same assertions. */
export const libs: [string, Net][] = [['node:net', nodeNetModule], ['wasinet', wasinetModule as unknown as Net]];

/** Listens on an ephemeral loopback port; resolves with the port. */
export function listenPort(server: { listen: Function; address(): unknown; once: Function; off?: Function },
  host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off?.('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/** A loopback port that was free a moment ago (listen, note it, close). */
export async function freePort(): Promise<number> {
  const probe = nodeNetModule.createServer();
  const port = await listenPort(probe);
  await new Promise((r) => probe.close(r));
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves once `fn()` is true (checked every 5 ms); rejects with `what` after `ms`. */
export async function until(fn: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** The first emission of `event` (its arguments); rejects after `ms`. */
export function eventually(e: EventEmitter, event: string, ms = 5000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { e.off(event, on); reject(new Error(`no '${event}' within ${ms} ms`)); }, ms);
    const on = (...a: unknown[]) => { clearTimeout(t); resolve(a); };
    e.once(event, on);
  });
}

/** Closes a server (and destroys the given sockets first), never rejecting, waiting at most 2 s. */
export async function shutdown(server: { close(cb?: () => void): unknown } | null,
  ...sockets: ({ destroy(): unknown } | null | undefined)[]): Promise<void> {
  for (const s of sockets) s?.destroy();
  if (server) {
    await new Promise<void>((r) => {
      const t = setTimeout(r, 2000);
      try { server.close(() => { clearTimeout(t); r(); }); } catch { clearTimeout(t); r(); }
    });
  }
}

export interface Served<S> {
  server: { close(cb?: () => void): unknown; address(): unknown };
  port: number;
  /** Every connection accepted, in order. */
  sockets: S[];
  /** Destroys every connection still open and closes the server. */
  close(): Promise<void>;
}

/**
 * A server of `lib` calling `onConn` per connection, tracking its sockets: on 127.0.0.1 (an
 * ephemeral port), or on the Unix socket `path` when given (then `port` is 0 and `connectTo`
 * names the path).
 */
export async function serve<S extends nodeNetModule.Socket = nodeNetModule.Socket>(lib: Net,
  onConn: (s: S) => void = (s) => { s.resume(); }, options: nodeNetModule.ServerOpts = {},
  path?: string): Promise<Served<S> & { connectTo: { port: number; host: string } | { path: string } }> {
  const sockets: S[] = [];
  const server = lib.createServer(options, (s) => { sockets.push(s as S); onConn(s as S); });
  let port = 0;
  if (path === undefined) {
    port = await listenPort(server);
  } else {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => { server.off('error', reject); resolve(); });
    });
  }
  return {
    server, port, sockets,
    connectTo: path === undefined ? { port, host: '127.0.0.1' } : { path },
    close: () => shutdown(server, ...sockets.filter((s) => !s.destroyed)),
  };
}

/** Asserts a synchronous throw of `Class` with exactly this code and message. */
export function throwsNode(fn: () => unknown, Class: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor,
  code: string, message: string): void {
  let thrown: unknown = null;
  try { fn(); } catch (e) { thrown = e; }
  assert.ok(thrown !== null, `expected a throw of ${code}`);
  const e = thrown as NodeJS.ErrnoException;
  assert.ok(e instanceof Class, `${code}: instanceof ${Class.name} (got ${Object.prototype.toString.call(e)} ${String(e)})`);
  assert.equal(e.name, Class.name);
  assert.equal(e.code, code);
  assert.equal(e.message, message);
  assert.equal(String(e), `${Class.name} [${code}]: ${message}`);
}

/** A node:net peer that sends `size` bytes of pattern(seed) and ends. */
export function sender(seed: number, size: number) {
  return serve(nodeNetModule, (p) => {
    p.on('error', () => {});
    p.resume();
    for (const b of pattern(seed, size)) p.write(b);
    p.end();
  });
}

/** Listens on `where`: a Unix socket path, or a port of 127.0.0.1 (0: any free one). */
export function listenOn(server: nodeNetModule.Server, where: number | string = 0): Promise<void> {
  return new Promise((resolve) => {
    if (typeof where === 'string') server.listen(where, () => resolve());
    else server.listen(where, '127.0.0.1', () => resolve());
  });
}

/** The port a TCP server listens on. */
export const portOf = (server: nodeNetModule.Server): number => (server.address() as nodeNetModule.AddressInfo).port;

/**
 * 4 MiB each way between a server and a client (TLS ones, in the tests of sessions below the
 * core), the server reading slowly: what each got, to compare with what the other sent.
 * `serve(handler)` makes a server that is not listening yet; `connect(port)` a client.
 */
export async function bothWays(serve: (handler: (s: nodeNetModule.Socket) => void) => nodeNetModule.Server,
  connect: (port: number) => nodeNetModule.Socket): Promise<{ up: Buffer; down: Buffer; serverGot: Buffer | null; clientGot: Buffer; client: nodeNetModule.Socket }> {
  const SIZE = 4 * 1024 * 1024;
  const bytes = (seed: number): Buffer => { const b = Buffer.alloc(SIZE); for (let i = 0; i < SIZE; i++) b[i] = (i * 7 + seed) & 255; return b; };
  const up = bytes(1);
  const down = bytes(2);
  let serverGot: Buffer | null = null;
  const server = serve((s) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => { parts.push(d); s.pause(); setTimeout(() => s.resume(), 1); });
    s.on('end', () => { serverGot = Buffer.concat(parts); s.end(down); });
  });
  await listenOn(server);
  const client = connect(portOf(server));
  const parts: Buffer[] = [];
  client.on('data', (d: Buffer) => parts.push(d));
  client.end(up);
  await new Promise((r) => client.on('close', r));
  await new Promise((r) => server.close(r));
  return { up, down, serverGot, clientGot: Buffer.concat(parts), client };
}
