// What the backends on Deno's, Bun's and workerd's own socket APIs (deno.ts, bun.ts, workerd.ts)
// share: the wake-up timer, name resolution, errno mapping and address helpers. Only what Node,
// Deno, Bun and workerd all provide is used here (node:timers, node:dns, performance): no
// node:net, no libuv.
//
// node-common.ts takes the credit window and the wake-up timer from here (this file imports no
// node:net).
import { setTimeout as setTimer, clearTimeout as clearTimer, setImmediate } from 'node:timers';
import dns from 'node:dns';
import type { Core, Output } from '../core/core.js';
import { ERRNO } from '../core/abi.js';
import { abiErrno } from '../core/errno.js';
import type { LookupCallback, LookupOptions } from './backend.js';
import type { HandleTable } from '../core/handle-table.js';

/**
 * Bytes a connection's transport holds on its way to the kernel before the core gets no more
 * credit (Node's libuv takes what the kernel takes; these runtimes queue in their own layer).
 */
export const CREDIT = 1 << 20;

export function creditLeft(held: number): number {
  return Math.max(0, CREDIT - held);
}

/** 4, 6, or 0 (not an IP literal) for an address string. */
export function familyOfAddress(a: string | null | undefined): number {
  if (!a) return 0;
  return a.includes(':') ? 6 : /^\d+\.\d+\.\d+\.\d+$/.test(a) ? 4 : 0;
}

/**
 * The ABI errno of a runtime's error: Deno's errors and Bun's carry the libuv-style name in
 * `code` (ECONNREFUSED, EADDRINUSE …); a few of Deno's error classes are recognised by name
 * when they do not.
 */
export function errnoOf(err: unknown): number {
  const e = err as { code?: unknown; name?: string } | null;
  if (e && typeof e.code === 'string' && ERRNO[e.code]) return ERRNO[e.code];
  switch (e?.name) {
    case 'ConnectionRefused': return ERRNO.ECONNREFUSED;
    case 'ConnectionReset': return ERRNO.ECONNRESET;
    case 'ConnectionAborted': return ERRNO.ECONNABORTED;
    case 'BrokenPipe': return ERRNO.EPIPE;
    case 'AddrInUse': return ERRNO.EADDRINUSE;
    case 'AddrNotAvailable': return ERRNO.EADDRNOTAVAIL;
    case 'NotFound': return ERRNO.ENOENT;
    case 'PermissionDenied': return ERRNO.EACCES;
    case 'TimedOut': return ERRNO.ETIMEDOUT;
    case 'NotConnected': return ERRNO.ENOTCONN;
  }
  return abiErrno(e?.code);
}

/**
 * The runtime's dns.lookup (node:dns, which Deno and Bun both emulate), with net's options.
 * getaddrinfo hints are dropped: Deno's emulation rejects Node's values, and on a lookup the
 * core asked for they only filter by configured address families.
 */
export function lookup(host: unknown, options: LookupOptions, callback: LookupCallback): void {
  const { hints: _hints, ...rest } = options;
  dns.lookup(host as string, rest as dns.LookupOptions, callback as never);
}

/**
 * The global setTimeout where it gives a timer that can be unref'd (Node, Bun; looked up at each
 * call, as Node's own code does), node:timers' on Deno and workerd, whose global one gives a number.
 */
function startTimer(fn: () => void, ms: number): ReturnType<typeof setTimer> {
  if ('Deno' in globalThis || isWorkerd()) return setTimer(fn, ms);
  // While a recording or replay has the program's timers (trace/timers.ts), the one it stands
  // in for: the stack's wake-ups are no timers of the program's.
  const st = globalThis.setTimeout as typeof globalThis.setTimeout & { [PROGRAM_TIMER]?: typeof globalThis.setTimeout };
  return (st[PROGRAM_TIMER] ?? st)(fn, ms) as unknown as ReturnType<typeof setTimer>;
}

/** On the setTimeout that stands in for the runtime's while the program's timers are recorded or replayed: the runtime's. */
export const PROGRAM_TIMER = Symbol.for('wasinet.programTimer');

function isWorkerd(): boolean {
  return (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers';
}

/**
 * The one wake-up the core asks for with TIMER. It never keeps the process alive by itself,
 * as socket timeouts do not in Node; the stack's own timers (stack.setTimeout) do.
 */
export class WakeTimer {
  #timer: ReturnType<typeof setTimer> | null = null;
  #seq = 0;
  #userTimers = 0;

  constructor(private readonly now: () => number, private readonly fire: () => void) {}

  /** A fresh core counts its TIMER sequence from 1 again. */
  reset(): void {
    this.#seq = 0;
  }

  set(o: Output): void {
    if (o.a < this.#seq) return; // a later TIMER already replaced this one
    this.#seq = o.a;
    this.stop();
    if (o.c >= 0) {
      this.#timer = startTimer(() => { this.#timer = null; this.fire(); }, Math.max(0, Math.ceil(o.c - this.now())));
      if (this.#userTimers === 0) this.#timer.unref();
    }
  }

  userTimers(pending: number): void {
    this.#userTimers = pending;
    if (this.#timer) {
      if (pending > 0) this.#timer.ref();
      else this.#timer.unref();
    }
  }

  stop(): void {
    if (this.#timer) clearTimer(this.#timer);
    this.#timer = null;
  }
}

/**
 * What the Deno and Bun backends do alike: the clock, the core they serve, its wake-up timer,
 * name resolution, and the answers of a runtime with no file descriptors or adoptable handles.
 */
export abstract class RuntimeBackendBase {
  protected core!: Core;
  protected readonly timer = new WakeTimer(() => this.now(), () => this.core.onTimer());

  now(): number {
    return performance.now();
  }

  attach(core: Core): void {
    this.core = core;
    this.timer.reset();
  }

  lookup(host: unknown, options: LookupOptions, callback: LookupCallback): void {
    lookup(host, options, callback);
  }

  userTimers(pending: number): void {
    this.timer.userTimers(pending);
  }

  fdOf(): number {
    return -1; // neither runtime gives file descriptors
  }

  adoptHandle(): number {
    return -1;
  }
}

/**
 * What a runtime read after READ_STOP (null: its EOF), handed to the core at READ_START, in
 * order, for as long as the core still wants data (an input may stop it again).
 */
export function replayStash(core: Core, h: number, c: { stash: (Uint8Array | null)[]; reading: boolean; closing: boolean }): void {
  while (c.stash.length > 0 && c.reading && !c.closing) {
    const chunk = c.stash.shift()!;
    if (chunk === null) core.onEof(h);
    else core.onData(h, chunk);
  }
}

/** Node's read size: the most one onData hands over, so users see Node's chunks. */
export const READ_SIZE = 65536;

/**
 * A read of the runtime's own (never reused), handed to the core in pieces of Node's read size;
 * what follows a READ_STOP in between waits in the stash for the next READ_START.
 */
export function handOver(core: Core, h: number, c: { stash: (Uint8Array | null)[]; reading: boolean; closing: boolean }, d: Uint8Array): void {
  for (let off = 0; off < d.length; off += READ_SIZE) {
    if (c.closing) return;
    const piece = d.length <= READ_SIZE ? d : d.subarray(off, Math.min(off + READ_SIZE, d.length));
    if (c.reading) core.onData(h, piece);
    else c.stash.push(piece);
  }
}

/**
 * A connection closed for the core while bytes it confirmed are still being written (Deno and
 * workerd confirm a WRITE once they hold it, before the kernel has it). Node's close returns at
 * once and the kernel still delivers what it holds; here the writes go on in the background, and
 * `giveUp` closes the connection once `Linger.MS` pass with nothing taken by the peer (a pending
 * write must not wait forever on a peer that stopped reading).
 */
export class Linger {
  static readonly MS = 2000;
  #timer: ReturnType<typeof setTimer>;
  readonly #giveUp: () => void;

  constructor(giveUp: () => void) {
    this.#giveUp = giveUp;
    this.#timer = this.#start();
  }

  #start(): ReturnType<typeof setTimer> {
    const t = startTimer(this.#giveUp, Linger.MS);
    (t as { unref?: () => void }).unref?.(); // it does not keep the process alive by itself
    return t;
  }

  /** The peer took bytes: it gets `Linger.MS` more. */
  progress(): void {
    clearTimer(this.#timer);
    this.#timer = this.#start();
  }

  stop(): void {
    clearTimer(this.#timer);
  }
}

/** A connection closed for the core while writing has a Linger until it is closed itself. */
interface Lingering { linger: Linger | null }

/** CLOSE while confirmed bytes are still being written: closed for the core now (Linger). */
export function closeLingering<C extends Lingering>(core: Core, conns: HandleTable<C>, h: number, c: C, finish: () => void): void {
  conns.delete(h);
  later(() => core.onClosed(h));
  c.linger = new Linger(finish);
}

/** The connection is closed: reports CLOSED, unless closeLingering did already. */
export function reportClosed<C extends Lingering>(core: Core, conns: HandleTable<C>, h: number, c: C): void {
  c.linger?.stop();
  c.linger = null;
  if (conns.get(h) !== c) return;
  conns.delete(h);
  later(() => core.onClosed(h));
}

/** Reports `fn` after the current I/O phase, as libuv reports a handle's close. */
export function later(fn: () => void): void {
  setImmediate(fn);
}

export type { Core };
