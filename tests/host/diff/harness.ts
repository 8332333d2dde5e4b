// The differential harness: one scenario, run once with node:net and once with wasinet as the
// library under test, must produce the same event log.
//
// A scenario gets `net` (the library under test) and `peer` (always node:net, for the far side
// when the scenario wants a fixed peer). It attaches `log.watch` to the objects it creates and
// records what it observes with `log.note` (write()'s return value, bufferSize, bytesWritten …).
// The log is normalised so that what legitimately differs between two runs does not count:
// port numbers become P1, P2 … in order of first appearance, temp paths become PATH, and
// consecutive 'data' events of one object merge into one (TCP does not keep chunk boundaries).
import type { EventEmitter } from 'node:events';
import nodeNet from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type NetLike = typeof nodeNet;

export interface Context {
  net: NetLike;
  peer: NetLike;
  log: Log;
  /** A fresh Unix socket path. */
  path(name?: string): string;
  /** Resolves when `fn()` is true, checked every ms; rejects after `ms`. */
  until(fn: () => boolean, ms?: number): Promise<void>;
  /** Resolves after `ms` of wall time. */
  sleep(ms: number): Promise<void>;
}

export interface Scenario {
  name: string;
  /** Runs the scenario; resolve once everything it watches is finished (closed). */
  run(ctx: Context): Promise<void>;
  /** Wall-clock limit for one run (default 10 s). */
  timeout?: number;
}

export const SOCKET_EVENTS = ['lookup', 'connectionAttempt', 'connectionAttemptFailed', 'connectionAttemptTimeout',
  'connect', 'ready', 'data', 'end', 'finish', 'drain', 'timeout', 'error', 'close'];
export const SERVER_EVENTS = ['listening', 'connection', 'error', 'close', 'drop'];

function describeError(e: Error): string {
  const x = e as NodeJS.ErrnoException & { address?: string; port?: number; errors?: Error[] };
  const parts = [`${e.constructor === Error ? 'Error' : e.name}`];
  for (const k of ['code', 'errno', 'syscall', 'address', 'port'] as const) {
    if (x[k] !== undefined) parts.push(`${k}=${String(x[k])}`);
  }
  parts.push(`"${e.message}"`);
  if (Array.isArray(x.errors)) parts.push(`[${x.errors.map((inner) => describeError(inner)).join(', ')}]`);
  return parts.join(' ');
}

export function summarize(a: unknown): string {
  if (a instanceof Error) return describeError(a);
  if (Buffer.isBuffer(a)) return `<${a.length} bytes>`;
  if (a === undefined) return 'undefined';
  if (typeof a === 'string') return JSON.stringify(a);
  if (typeof a === 'object' && a !== null) {
    if ('remoteAddress' in a && 'write' in a) return '<socket>';
    return JSON.stringify(a);
  }
  return String(a);
}

export class Log {
  readonly entries: string[] = [];

  /** Logs the events of `e`, each as `label event args`. */
  watch(e: EventEmitter, label: string, events: string[] = SOCKET_EVENTS): void {
    for (const name of events) {
      e.on(name, (...args: unknown[]) => {
        if (name === 'data') {
          this.data(label, (args[0] as Buffer).length);
          return;
        }
        this.note(label, [name, ...args.map(summarize)].join(' '));
      });
    }
  }

  note(label: string, text: string): void {
    this.entries.push(`${label} ${text}`);
  }

  data(label: string, n: number): void {
    const last = this.entries[this.entries.length - 1];
    const m = last && new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} data (\\d+)$`).exec(last);
    if (m) this.entries[this.entries.length - 1] = `${label} data ${Number(m[1]) + n}`;
    else this.entries.push(`${label} data ${n}`);
  }
}

/** Port numbers become P1, P2 … by first appearance; temp paths become PATH. */
export function normalize(entries: readonly string[], ports: readonly number[]): string[] {
  const names = new Map<string, string>();
  const portSet = new Set(ports.map(String));
  return entries.map((line) => line
    .replace(/\/[^\s"']*wasinet-diff-[^\s"']*/g, 'PATH')
    .replace(/\b\d{2,5}\b/g, (num) => {
      if (!portSet.has(num)) return num;
      if (!names.has(num)) names.set(num, `P${names.size + 1}`);
      return names.get(num)!;
    }));
}

type Tracked = EventEmitter & { address?: () => unknown; localPort?: number; remotePort?: number };

/** Collects the ports an object binds or connects with, as they appear, so normalize() can rename them. */
function trackPorts(o: Tracked, ports: Set<number>): void {
  const grab = () => {
    const a = typeof o.address === 'function' ? o.address() : null;
    if (a && typeof a === 'object' && typeof (a as { port?: unknown }).port === 'number') ports.add((a as { port: number }).port);
    if (typeof o.localPort === 'number') ports.add(o.localPort);
    if (typeof o.remotePort === 'number') ports.add(o.remotePort);
  };
  o.on('listening', grab);
  o.on('connect', grab);
  o.on('connectionAttempt', (_addr: unknown, port: unknown) => { if (typeof port === 'number') ports.add(port); });
  o.on('connection', (c: Tracked) => {
    if (typeof c.localPort === 'number') ports.add(c.localPort);
    if (typeof c.remotePort === 'number') ports.add(c.remotePort);
  });
}

let dirCount = 0;

/**
 * Runs one scenario with `net` as the library under test (and `peer` for the far side,
 * node:net unless given: a simulated run passes the sim stack for both); returns its log.
 */
export async function runScenario(s: Scenario, net: NetLike, peer: NetLike = nodeNet): Promise<string[]> {
  const log = new Log();
  const ports = new Set<number>();
  const dir = mkdtempSync(join(process.env.WASINET_TEST_TMP ?? tmpdir(), `wasinet-diff-${dirCount++}-`));
  let pathN = 0;
  // Every socket or server the scenario creates with either library has its ports collected.
  const track = (lib: NetLike): NetLike => new Proxy(lib, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop === 'createServer' || prop === 'connect' || prop === 'createConnection') {
        return (...args: unknown[]) => {
          const o = (v as Function)(...args);
          trackPorts(o, ports);
          return o;
        };
      }
      if (prop === 'Socket' || prop === 'Server') {
        return new Proxy(v as Function, {
          construct(cls, args, newTarget) {
            const o = Reflect.construct(cls, args, newTarget === receiver[prop as keyof NetLike] ? cls : newTarget);
            trackPorts(o, ports);
            return o;
          },
        });
      }
      return v;
    },
  }) as NetLike;
  const ctx: Context = {
    net: track(net),
    peer: track(peer),
    log,
    path: (name = 's') => join(dir, `${name}${pathN++}.sock`),
    until: (fn, ms = 5000) => new Promise((resolve, reject) => {
      const start = Date.now();
      const check = () => {
        if (fn()) resolve();
        else if (Date.now() - start > ms) reject(new Error('until: condition not met in time'));
        else setTimeout(check, 1);
      };
      check();
    }),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
  const limit = s.timeout ?? 10000;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    s.run(ctx),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`scenario timed out; log so far:\n${log.entries.join('\n')}`)), limit); }),
  ]).finally(() => clearTimeout(timer));
  return normalize(log.entries, [...ports]);
}

/**
 * Runs scenario `s` on node:net (`ref`) and on the library `make` gives (with its peer library) and
 * compares the logs: null when equal, else the first difference. When they differ, both run once
 * more and that pair is compared: a scenario whose events race across sockets can come out
 * otherwise on node:net itself when the machine is loaded (CI runs the suites in parallel on two
 * CPUs); a real difference comes out again. The retry is printed, so a scenario that needs it
 * shows in the output.
 */
export async function differential(s: Scenario, ref: NetLike, make: () => { lib: NetLike; peer?: NetLike }): Promise<{ expected: string[]; diff: string | null }> {
  const once = async () => {
    const { lib, peer } = make();
    return runScenario(s, lib, peer);
  };
  let expected = await runScenario(s, ref);
  let diff = compareLogs(expected, await once());
  if (diff !== null) {
    console.log(`# ${s.name}: the logs differed; running both again:\n# ${diff.split('\n').join('\n# ')}`);
    expected = await runScenario(s, ref);
    diff = compareLogs(expected, await once());
  }
  return { expected, diff };
}

/** Compares two logs; returns null when equal, else a readable account of the first difference. */
export function compareLogs(expected: readonly string[], actual: readonly string[]): string | null {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    if (expected[i] !== actual[i]) {
      const ctx = (l: readonly string[]) => l.slice(Math.max(0, i - 3), i + 4).map((x, j) => `${Math.max(0, i - 3) + j === i ? '>' : ' '} ${x}`).join('\n');
      return `first difference at entry ${i}:\n  node:net: ${expected[i] ?? '(end of log)'}\n  wasinet:  ${actual[i] ?? '(end of log)'}\n` +
        `node:net around it:\n${ctx(expected)}\nwasinet around it:\n${ctx(actual)}`;
    }
  }
  return null;
}
