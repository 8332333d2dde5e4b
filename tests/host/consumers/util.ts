// Shared by the consumer-*.test files: software built on `net` (http, https/tls, http2, ws,
// undici, mqtt/aedes, ssh2) run once with node:net and once with wasinet as the library under
// test, on real loopback sockets. Every case is written once as `run(scope) => result`; `both()`
// runs it per library (one subtest each), checks node:net's result against what it must be,
// then requires wasinet's result to be deepStrictEqual to node:net's and checks it the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventEmitter } from 'node:events';
import http from 'node:http';
import nodeNet from 'node:net';
import wasinetModule from '../../../host/index.js';
import { pattern, listenPort } from '../helpers.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** A net module: node:net itself, or wasinet typed as one (same API). */
export type Net = typeof nodeNet;
export type Sock = nodeNet.Socket;

export const wasinet = wasinetModule as unknown as Net;
export const LIBS: [string, Net][] = [['node:net', nodeNet], ['wasinet', wasinet]];

// ------------------------------------------------------------------------------------- fixtures

/** The repository root (where package.json and tests/fixtures are), found from this file. */
export const root: string = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'tests', 'fixtures'))) return d;
    d = dirname(d);
  }
  throw new Error('repository root with tests/fixtures not found');
})();

export function fixture(name: string): Buffer {
  return readFileSync(join(root, 'tests', 'fixtures', name));
}

/** The self-signed localhost certificate (CN=localhost, SAN IP:127.0.0.1, DNS:localhost). */
export const tlsFixture = {
  get key(): Buffer { return fixture('localhost-key.pem'); },
  get cert(): Buffer { return fixture('localhost-cert.pem'); },
};

// ------------------------------------------------------------------------------ payloads, hashes

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

const chunkCache = new Map<string, Buffer[]>();
/** The period of a payload stream: pattern(seed) is generated for this many bytes and repeated. */
const PERIOD = MiB + 13;
/**
 * `size` bytes for `seed`, as chunks of `chunk` bytes, made once per process (both libraries
 * send the same buffers). The stream is pattern(seed, PERIOD) repeated; the chunks are views of
 * that one block where they can be (first writes to fresh memory are slow on small machines:
 * copying 64 MiB costs about 0.45 s here). PERIOD is no multiple of any chunk size, so a chunk
 * lost, repeated or moved changes the sha256.
 */
export function patternChunks(seed: number, size: number, chunk = 64 * KiB): Buffer[] {
  const key = `${seed}/${size}/${chunk}`;
  let c = chunkCache.get(key);
  if (!c) {
    let block = blockCache.get(seed);
    if (!block) { block = Buffer.concat([...pattern(seed, PERIOD)]); blockCache.set(seed, block); }
    c = [];
    for (let off = 0; off < size; off += chunk) {
      const n = Math.min(chunk, size - off);
      const at = off % PERIOD;
      if (at + n <= PERIOD) { c.push(block.subarray(at, at + n)); continue; }
      const b = Buffer.allocUnsafe(n);
      const first = block.copy(b, 0, at);
      block.copy(b, first, 0, n - first);
      c.push(b);
    }
    chunkCache.set(key, c);
  }
  return c;
}
const blockCache = new Map<number, Buffer>();

const shaCache = new Map<string, string>();
/** sha256 of patternChunks(seed, size): the absolute reference every transfer is checked against. */
export function patternSha(seed: number, size: number): string {
  const key = `${seed}/${size}`;
  let h = shaCache.get(key);
  if (!h) {
    const hash = createHash('sha256');
    for (const b of patternChunks(seed, size)) hash.update(b);
    h = hash.digest('hex');
    shaCache.set(key, h);
  }
  return h;
}

export function patternBuffer(seed: number, size: number): Buffer {
  return Buffer.concat(patternChunks(seed, size));
}

export interface Digest { bytes: number; sha: string }

/** Hashes everything a readable gives until 'end' (rejects on 'error'). */
export function digest(r: EventEmitter): Promise<Digest> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    r.on('data', (d: Buffer) => { h.update(d); bytes += d.length; });
    r.once('end', () => resolve({ bytes, sha: h.digest('hex') }));
    r.once('error', reject);
  });
}

/** digest(r), or null when `r` fails (for handlers: a request the client aborts must not reject). */
export function digestOrNull(r: EventEmitter): Promise<Digest | null> {
  return digest(r).catch(() => null);
}

/** Calls `f` with the digest of `r`'s body once it ended; nothing when `r` fails (a client aborted). */
export function whenBody(r: EventEmitter, f: (d: Digest) => void): void {
  digest(r).then(f, () => {});
}

/** Collects everything a readable gives until 'end'. */
export function collect(r: EventEmitter): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    r.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    r.once('end', () => resolve(Buffer.concat(chunks)));
    r.once('error', reject);
  });
}

interface WritableLike { write(b: Buffer): boolean; end(): unknown; once(ev: string, f: (...a: unknown[]) => void): unknown;
  off?(ev: string, f: (...a: unknown[]) => void): unknown; destroyed?: boolean }

/** Writes the chunks with backpressure ('drain'), then ends unless `end` is false. */
export async function writeAll(w: WritableLike, chunks: Buffer[], end = true): Promise<void> {
  for (const b of chunks) {
    if (w.destroyed) throw new Error('destination destroyed while writing');
    if (!w.write(b)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => { w.off?.('close', onClose); resolve(); };
        const onClose = () => { w.off?.('drain', onDrain); reject(new Error('destination closed while writing')); };
        w.once('drain', onDrain);
        w.once('close', onClose);
      });
    }
  }
  if (end) w.end();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves once `fn()` is true (polled every 5 ms); rejects with `what` after `ms`, or when the run ends. */
export async function until(fn: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const signal = current?.signal;
  const end = Date.now() + ms;
  while (!fn()) {
    if (signal?.aborted) throw new Error(`the run ended while waiting for ${what}`);
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * The arguments of the first `event`; rejects on 'error' first (unless event is 'error'), after
 * `ms`, or when the run ends (so a run abandoned after a failure leaves no timer behind).
 */
export function once(e: EventEmitter, event: string, ms = 10000): Promise<unknown[]> {
  const signal = current?.signal;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { cleanup(); reject(new Error(`no '${event}' within ${ms} ms`)); }, ms);
    const on = (...a: unknown[]) => { cleanup(); resolve(a); };
    const onErr = (err: unknown) => { cleanup(); reject(err); };
    const onAbort = () => { cleanup(); reject(new Error(`the run ended while waiting for '${event}'`)); };
    const cleanup = () => {
      clearTimeout(t);
      e.off(event, on);
      if (event !== 'error') e.off('error', onErr);
      signal?.removeEventListener('abort', onAbort);
    };
    e.once(event, on);
    if (event !== 'error') e.once('error', onErr);
    if (signal?.aborted) onAbort(); else signal?.addEventListener('abort', onAbort);
  });
}

/** An error's code, else its message: what result objects record of an error. */
export function codeOf(e: unknown): string {
  if (e == null) return 'none';
  const err = e as NodeJS.ErrnoException;
  return err.code ?? err.message ?? String(e);
}

// --------------------------------------------------------------------------- scope and tracking

interface Closable { close?(cb?: (...a: unknown[]) => void): unknown; destroy?(): unknown; destroyed?: boolean }

/** What a case gets: the library under test (tracked: every server and socket it makes is torn down). */
export interface Scope {
  lib: string;
  /** The library under test; servers/sockets made through it are closed after the run. */
  net: Net;
  /** Runs `fn` after the run (last registered first), even when the run failed or timed out. */
  defer(fn: () => unknown): void;
  /** Destroys (or closes) `x` after the run. */
  track<T extends object>(x: T): T;
  /** Listens on 127.0.0.1:0 (server tracked); resolves with the port. */
  listen(server: nodeNet.Server | http.Server): Promise<number>;
}

/** Closes a server within 2 s, never rejecting. */
function closeServer(s: Closable): Promise<void> {
  return new Promise<void>((r) => {
    const t = setTimeout(r, 2000);
    try { s.close!(() => { clearTimeout(t); r(); }); } catch { clearTimeout(t); r(); }
  });
}

class RunScope implements Scope {
  readonly net: Net;
  #cleanups: (() => unknown)[] = [];
  readonly #ended = new AbortController();
  /** Aborted when the run is over: waits of a run abandoned after a failure stop at once. */
  readonly signal = this.#ended.signal;

  constructor(readonly lib: string, base: Net) {
    const trackServer = (srv: nodeNet.Server) => {
      srv.on('connection', (s: Sock) => this.track(s));
      this.defer(() => closeServer(srv));
      return srv;
    };
    this.net = {
      ...base,
      createServer: (...a: unknown[]) => trackServer((base.createServer as Function)(...a)),
      connect: (...a: unknown[]) => this.track((base.connect as Function)(...a)),
      createConnection: (...a: unknown[]) => this.track((base.createConnection as Function)(...a)),
      Socket: base.Socket, Server: base.Server,
    } as unknown as Net;
  }

  defer(fn: () => unknown): void {
    // A run abandoned after a failure may still make things: they are torn down at once.
    if (this.signal.aborted) { try { void Promise.resolve(fn()).catch(() => {}); } catch { /* ignore */ } return; }
    this.#cleanups.push(fn);
  }

  track<T extends object>(x: T): T {
    const c = x as Closable;
    this.defer(() => {
      // Whatever tearing down makes it emit is not the test's business (and must not be uncaught).
      (x as unknown as Partial<EventEmitter>).on?.('error', () => {});
      if (typeof c.destroy === 'function') { if (!c.destroyed) c.destroy(); } else if (typeof c.close === 'function') return closeServer(c);
    });
    return x;
  }

  async listen(server: nodeNet.Server | http.Server): Promise<number> {
    const sockets = new Set<Sock>();
    server.on('connection', (s: Sock) => { sockets.add(s); });
    this.defer(async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server as Closable);
    });
    return listenPort(server);
  }

  async cleanup(): Promise<void> {
    this.#ended.abort();
    const fns = this.#cleanups.reverse();
    this.#cleanups = [];
    for (const f of fns) {
      let t: NodeJS.Timeout | undefined;
      try {
        await Promise.race([Promise.resolve(f()), new Promise((r) => { t = setTimeout(r, 2500); })]);
      } catch { /* cleanup never fails a test */ }
      clearTimeout(t);
    }
  }
}

/** The scope of the run in progress: helpers (rawExchange, fetchHttp) track their sockets in it. */
let current: RunScope | null = null;

/** Tracks `x` in the scope of the run in progress (if any). */
export function trackCurrent<T extends object>(x: T): T {
  return current ? current.track(x) : x;
}

/**
 * Runs `run` with a fresh scope for `lib`, bounded by `ms`: rejects with the first uncaught
 * exception or unhandled rejection raised meanwhile (a crash inside http's or a library's
 * socket handling), or with a timeout; always tears the scope down. A crash is reported as the
 * failure even when it comes a moment after the run failed otherwise, or during the teardown
 * (or within 15 ms after it), and is kept from leaking into the next run.
 */
export async function scoped<R>(lib: string, net: Net, run: (sc: Scope) => Promise<R>, ms: number): Promise<R> {
  const sc = new RunScope(lib, net);
  let timer: NodeJS.Timeout | undefined;
  const crashes: Error[] = [];
  let onCrash: (e: unknown) => void = () => {};
  const failure = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${lib}: no result within ${ms} ms`)), ms);
    onCrash = (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      crashes.push(err);
      reject(err);
    };
  });
  failure.catch(() => {});
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  current = sc;
  let result: R | undefined;
  let runError: unknown = null;
  try {
    result = await Promise.race([run(sc), failure]);
  } catch (e) {
    runError = e;
  }
  clearTimeout(timer);
  // A failure can be the echo of a crash still on its way (a socket closed under the client by
  // the exception): give the crash a moment to arrive, so it is the one reported.
  if (runError !== null && crashes.length === 0) await sleep(20);
  const crashedInRun = crashes.length > 0;
  await sc.cleanup();
  await sleep(15);
  current = null;
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  if (crashes.length > 0 && runError !== crashes[0]) {
    const c = crashes[0];
    const runMessage = runError === null ? '' : ` (and the run failed: ${(runError as Error).message ?? String(runError)})`;
    const err = new Error(`${lib}: uncaught ${crashedInRun ? 'during the run' : 'during teardown'}: ${c.message}${runMessage}`);
    err.stack = `${err.message}\n${(c.stack ?? '').split('\n').slice(1).join('\n')}`;
    throw err;
  }
  if (runError !== null) throw runError;
  return result as R;
}

export interface BothOptions {
  /** Per library, in ms (default 15 s). The whole test gets twice that plus 10 s. */
  timeout?: number;
  /** Libraries to run (default both); a case for one side only is not a consumer case. */
  skip?: string | false;
}

/**
 * One consumer case, run with node:net then with wasinet, each as a subtest. node:net's result
 * must pass `check` (so the case is not vacuous); wasinet's must equal node:net's
 * (deepStrictEqual) and pass `check` too.
 */
export function both<R>(title: string, opts: BothOptions, run: (sc: Scope) => Promise<R>,
  check: (r: R, lib: string) => void): void {
  const ms = opts.timeout ?? 15000;
  test(title, { timeout: 2 * ms + 10000, skip: opts.skip || false }, async (t) => {
    let reference: { r: R } | null = null;
    await t.test('node:net', { timeout: ms + 5000 }, async () => {
      const r = await scoped('node:net', nodeNet, run, ms);
      check(r, 'node:net');
      reference = { r };
    });
    await t.test('wasinet', { timeout: ms + 5000 }, async () => {
      const r = await scoped('wasinet', wasinet, run, ms);
      if (reference) assert.deepStrictEqual(r, (reference as { r: R }).r, 'wasinet gives what node:net gives');
      check(r, 'wasinet');
    });
  });
}

// ------------------------------------------------------------------------------------ HTTP bits

/**
 * `net.createServer((s) => httpServer.emit('connection', s))`: the lib's server feeding a
 * non-listening http/https/http2/tls server, the way users put these servers on another `net`.
 * Resolves with the port; the lib server, its sockets and the fed server are torn down after.
 */
export async function feed(sc: Scope, fed: EventEmitter & { close?(cb?: () => void): unknown },
  serverOptions: nodeNet.ServerOpts = {}): Promise<number> {
  const srv = sc.net.createServer(serverOptions, (s) => fed.emit('connection', s));
  sc.defer(() => { try { fed.close?.(() => {}); } catch { /* not listening */ } });
  return listenPort(srv);
}

/**
 * Connects a raw node:net socket (a fixed reference peer, never the library under test), writes
 * `data` (chunks separated by `gapMs` when an array), and collects what comes back until the
 * peer closes. Resolves with the bytes and how the connection ended.
 */
export async function rawExchange(port: number, data: Buffer | string | (Buffer | string)[],
  opts: { gapMs?: number; end?: boolean; ms?: number } = {}): Promise<{ got: Buffer; sent: number; ended: string }> {
  const s = trackCurrent(nodeNet.connect(port, '127.0.0.1'));
  const chunks: Buffer[] = [];
  let sent = 0;
  s.on('data', (d: Buffer) => chunks.push(d));
  const ended = new Promise<string>((resolve) => {
    let how = 'close';
    s.on('end', () => { how = 'end'; });
    s.on('error', (e) => { how = `error ${codeOf(e)}`; });
    s.on('close', () => resolve(how));
  });
  const t = setTimeout(() => s.destroy(new Error('rawExchange: peer did not close in time')), opts.ms ?? 10000);
  try {
    await once(s, 'connect');
    const parts = Array.isArray(data) ? data : [data];
    for (let i = 0; i < parts.length; i++) {
      if (i > 0 && opts.gapMs) await sleep(opts.gapMs);
      if (s.destroyed) break;
      const b = Buffer.from(parts[i]);
      sent += b.length;
      s.write(b);
    }
    if (opts.end) s.end();
    const how = await ended;
    return { got: Buffer.concat(chunks), sent, ended: how };
  } finally {
    clearTimeout(t);
  }
}

export interface RawResponse { status: number; headers: Record<string, string>; body: Buffer }

/** Splits a byte stream of HTTP/1.1 responses (content-length or chunked bodies). */
export function parseResponses(buf: Buffer): { responses: RawResponse[]; rest: number } {
  const responses: RawResponse[] = [];
  let off = 0;
  for (let guard = 0; guard < 100000 && off < buf.length; guard++) {
    const headEnd = buf.indexOf('\r\n\r\n', off);
    if (headEnd < 0) break;
    const lines = buf.subarray(off, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? NaN);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    let p = headEnd + 4;
    let body: Buffer;
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (p + n > buf.length) break;
      body = buf.subarray(p, p + n);
      p += n;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) return { responses, rest: buf.length - off };
        const n = parseInt(buf.subarray(p, le).toString('latin1'), 16);
        p = le + 2;
        if (n === 0) { p += 2; break; }
        parts.push(buf.subarray(p, p + n));
        p += n + 2;
      }
      body = Buffer.concat(parts);
    } else {
      body = buf.subarray(p);
      p = buf.length;
    }
    responses.push({ status, headers, body });
    off = p;
  }
  return { responses, rest: buf.length - off };
}

export interface Fetched { status: number; bytes: number; sha: string; reused: boolean; headers: Record<string, string>;
  /** The body as text when it is at most 256 bytes, else ''. */
  text: string }

/**
 * One http.request (options as Node takes them), the body given as chunks written with
 * backpressure, or as one buffer given to req.end(); resolves with the status, the response body's digest and whether the request
 * went out on a reused socket.
 */
export function fetchHttp(options: http.RequestOptions, body: Buffer[] | Buffer | null = null,
  pick: string[] = []): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      const headers: Record<string, string> = {};
      for (const h of pick) headers[h] = String(res.headers[h]);
      let head = Buffer.alloc(0);
      res.on('data', (d: Buffer) => { if (head.length <= 256) head = Buffer.concat([head, d.subarray(0, 257)]); });
      digest(res).then((d) => resolve({ status: res.statusCode!, ...d, reused: req.reusedSocket, headers,
        text: d.bytes <= 256 ? head.toString() : '' }), reject);
    });
    trackCurrent(req);
    req.on('error', reject);
    if (Buffer.isBuffer(body)) req.end(body);
    else if (body) writeAll(req, body).catch(reject);
    else req.end();
  });
}
