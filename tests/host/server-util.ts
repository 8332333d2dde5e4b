// Helpers of the server-*.test and ipc-*.test files: connecting probes, listen outcomes, child
// processes with bounded lifetimes. (General helpers are in helpers.ts.)
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodeNet from 'node:net';
import type { Net } from './helpers.js';

export type Server = nodeNet.Server;
export type Socket = nodeNet.Socket;
export type SysErr = NodeJS.ErrnoException & { address?: string | null; port?: number };

/** The library file a child process imports for `lib` ('node:net' or the built wasinet). */
export const WASINET_ENTRY = new URL('../../host/index.js', import.meta.url).pathname;
export function libSpecifier(lib: string): string {
  return lib === 'node:net' ? 'node:net' : WASINET_ENTRY;
}

// ---------------------------------------------------------------- cleanup after failures

const ownedServers = new Set<Server>();
const ownedSockets = new Set<Socket>();

/** Registers a server (and every connection it accepts) or a socket for disposeAll(). */
export function own<T extends Server | Socket>(x: T): T {
  if (x instanceof nodeNet.Server || typeof (x as { listen?: unknown }).listen === 'function') {
    const server = x as Server;
    if (!ownedServers.has(server)) {
      ownedServers.add(server);
      server.on('connection', (c: Socket) => { ownedSockets.add(c); c.on('error', () => {}); });
    }
  } else {
    ownedSockets.add(x as Socket);
  }
  return x;
}

/**
 * Destroys every owned socket and closes every owned server (waiting at most 2 s): a failed
 * assertion must not leave handles that keep the test process alive. Use as afterEach(disposeAll).
 */
export async function disposeAll(): Promise<void> {
  for (const s of ownedSockets) { try { s.destroy(); } catch { /* gone */ } }
  ownedSockets.clear();
  const servers = [...ownedServers];
  ownedServers.clear();
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 2000);
    const done = () => { clearTimeout(t); resolve(); };
    try { server.close(done); } catch { done(); }
  })));
}

/** What a listen() call ended with: 'listening' (and the address then) or the 'error' emitted. */
export type ListenOutcome = { listening: true; address: ReturnType<Server['address']> } | { listening: false; error: SysErr };

/** Calls server.listen(...args) and waits (at most `ms`) for 'listening' or 'error'. */
export function listenOutcome(server: Server, args: unknown[], ms = 5000): Promise<ListenOutcome> {
  own(server);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { cleanup(); reject(new Error(`neither 'listening' nor 'error' within ${ms} ms`)); }, ms);
    const onListening = () => { cleanup(); resolve({ listening: true, address: server.address() }); };
    const onError = (error: SysErr) => { cleanup(); resolve({ listening: false, error }); };
    const cleanup = () => { clearTimeout(t); server.off('listening', onListening); server.off('error', onError); };
    server.on('listening', onListening);
    server.on('error', onError);
    (server.listen as (...a: unknown[]) => unknown)(...args);
  });
}

function describeArg(a: unknown): string {
  if (typeof a === 'function') return 'fn';
  if (a && typeof a === 'object' && a.constructor !== Object) return `<${a.constructor.name}>`;
  try { return JSON.stringify(a); } catch { return String(a); }
}

/** listen(...args) that must succeed; resolves with the server's address(). */
export async function listenOk(server: Server, ...args: unknown[]): Promise<ReturnType<Server['address']>> {
  const r = await listenOutcome(server, args);
  if (!r.listening) throw new Error(`listen(${args.map(describeArg).join(', ')}) failed: ${r.error.code} ${r.error.message}`);
  return r.address;
}

/** listen(...args) that must fail; resolves with the error emitted. */
export async function listenErr(server: Server, ...args: unknown[]): Promise<SysErr> {
  const r = await listenOutcome(server, args);
  if (r.listening) throw new Error(`listen unexpectedly succeeded at ${JSON.stringify(r.address)}`);
  return r.error;
}

export function portOf(server: Server): number {
  return (server.address() as nodeNet.AddressInfo).port;
}

/** Connects a node:net client; resolves with it once connected, rejects with the connect error. */
export function connectOk(...args: unknown[]): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const c = own((nodeNet.connect as (...a: unknown[]) => Socket)(...args));
    c.once('connect', () => { c.off('error', reject); resolve(c); });
    c.once('error', reject);
  });
}

/** Tries a node:net connection; 'connected' (then destroyed) or the error code; 'timeout' after `ms`. */
export function probe(target: number | string, host = '127.0.0.1', ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const c = typeof target === 'number' ? nodeNet.connect(target, host) : nodeNet.connect(target);
    const t = setTimeout(() => { c.destroy(); resolve('timeout'); }, ms);
    c.once('connect', () => { clearTimeout(t); c.destroy(); resolve('connected'); });
    c.once('error', (e: SysErr) => { clearTimeout(t); resolve(String(e.code)); });
  });
}

/** A node:net connection's full reply (everything until the peer's end), or the error code. */
export function fetchReply(target: number | string, host = '127.0.0.1', send = '', ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const c = typeof target === 'number' ? nodeNet.connect(target, host) : nodeNet.connect(target);
    let got = '';
    const t = setTimeout(() => { c.destroy(); resolve(`timeout after ${JSON.stringify(got)}`); }, ms);
    c.setEncoding('utf8');
    c.on('data', (d: string) => { got += d; });
    c.once('connect', () => { if (send) c.write(send); });
    c.once('error', (e: SysErr) => { clearTimeout(t); resolve(`error ${e.code}`); });
    c.once('close', () => { clearTimeout(t); resolve(got); });
  });
}

/** Closes `server` (callback or 'close', whichever first), destroying `sockets` first; at most `ms`. */
export function closeServer(server: Server | null | undefined, sockets: (Socket | null | undefined)[] = [], ms = 3000): Promise<void> {
  for (const s of sockets) s?.destroy();
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    const done = () => { clearTimeout(t); resolve(); };
    try { server.close(done); } catch { done(); }
  });
}

/** Collects the connections `server` accepts. */
export function track(server: Server): Socket[] {
  own(server);
  const list: Socket[] = [];
  server.on('connection', (s: Socket) => list.push(s));
  return list;
}

// ---------------------------------------------------------------- child processes

let scriptDir: string | null = null;
let scriptN = 0;

/** Writes an ESM script into a temp dir of this run; returns its path. */
export function writeScript(source: string, name = 'child'): string {
  scriptDir ??= mkdtempSync(join(process.env.WASINET_TEST_TMP ?? tmpdir(), 'srv-scripts-'));
  const file = join(scriptDir, `${name}-${process.pid}-${scriptN++}.mjs`);
  writeFileSync(file, source);
  return file;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the child did not exit by itself within the time given and was killed. */
  killed: boolean;
}

const children = new Set<ChildProcess>();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

/**
 * Runs an ESM script (source text, written to a temp file) with this node binary; kills it with
 * SIGKILL if it has not exited after `ms`. `onStdout` sees each stdout chunk (to react to it).
 */
export function runChild(source: string, ms: number,
  opts: { stdio?: StdioOptions; env?: NodeJS.ProcessEnv; onStdout?: (text: string, child: ChildProcess) => void } = {}): Promise<ChildResult> {
  const file = writeScript(source);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => { stdout += d; opts.onStdout?.(stdout, child); });
    child.stderr?.on('data', (d: string) => { stderr += d; });
    const t = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, ms);
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      children.delete(child);
      // Let the pipes deliver what remains.
      setTimeout(() => resolve({ code, signal, stdout, stderr, killed }), 20);
    });
  });
}

/** A child running `source` in the background; stop() kills it (SIGKILL) and waits for its exit. */
export function startChild(source: string, opts: { stdio?: StdioOptions; env?: NodeJS.ProcessEnv } = {}): {
  child: ChildProcess; stdout(): string; stderr(): string; waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stop(): Promise<void>;
} {
  const file = writeScript(source);
  const child = spawn(process.execPath, [file], { stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => { out += d; });
  child.stderr?.on('data', (d: string) => { err += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => {
    children.delete(child);
    r({ code, signal });
  }));
  let gone = false;
  void exited.then(() => { gone = true; });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor: (re, ms = 10000) => new Promise((resolve, reject) => {
      const end = Date.now() + ms;
      const check = () => {
        const m = re.exec(out);
        if (m) resolve(m);
        else if (gone) reject(new Error(`child exited before printing ${re}; stdout: ${out}; stderr: ${err}`));
        else if (Date.now() > end) reject(new Error(`child did not print ${re} within ${ms} ms; stdout: ${out}; stderr: ${err}`));
        else setTimeout(check, 10);
      };
      check();
    }),
    exited,
    stop: async () => {
      if (!gone) child.kill('SIGKILL');
      await exited;
    },
  };
}

export type { Net };
