// GuestRuntime: one Wasm guest running on one wasinet stack (docs/guest.md is its contract).
//
// Every guest socket is a Socket of the stack and every guest server a Server of it, so the
// guest gets Node's semantics from the same code as any user of wasinet. The runtime keeps the
// guest's handle table (small integers, never reused), turns the objects' events into calls of
// the guest's exports, and ends the guest on the first fault: a trap, a bad pointer or handle,
// proc_exit/exit, or stop(). Ending destroys every socket and server the guest had, so its
// peers see its connections close.
//
// Events never re-enter the guest: one that fires while a guest call is running (an import can
// make a stream emit synchronously) waits in a queue and is delivered when that call returns.
import type { Socket, Server } from 'node:net';
import type { StackApi } from '../net/create.js';
import { abiErrno } from '../core/errno.js';
import { SYSCALL } from '../core/abi.js';
import { GuestFault, GuestMemory, wasiImports } from './wasi.js';
import { guestImports } from './imports.js';
import { HandleTable } from '../core/handle-table.js';

/** Why a plugin ended (Plugin.exited resolves with it). */
export interface PluginExit {
  /**
   * done: nothing left to do (no socket, server or timer) · exit: the guest called exit or
   * proc_exit · stopped: plugin.stop() · trap: the guest trapped · memory: it trapped at its
   * memory maximum · fault: it called an import wrongly · cpu: a callback ran past limits.cpuMs ·
   * load: the module is not a valid guest · error: the host failed (a bug of wasinet).
   */
  reason: 'done' | 'exit' | 'stopped' | 'trap' | 'memory' | 'fault' | 'cpu' | 'load' | 'error';
  /** The exit status: the guest's for 'exit', 0 for 'done' and 'stopped', 1 otherwise. */
  code: number;
  /** One line saying what happened. */
  message: string;
}

/** What the runtime counts (Plugin.usage()). */
export interface PluginUsage {
  sockets: number;
  servers: number;
  timers: number;
  bytesIn: number;
  bytesOut: number;
  callbacks: number;
  cpuMs: number;
  memory: number;
}

/** The order of the usage counters in a plugin's shared array (after slot 0, the watchdog's). */
export const USAGE_SLOTS: (keyof PluginUsage)[] = ['sockets', 'servers', 'timers', 'bytesIn', 'bytesOut', 'callbacks', 'cpuMs', 'memory'];

export interface GuestHooks {
  args: string[];
  env: Record<string, string>;
  output(fd: 1 | 2, bytes: Uint8Array): void;
  random(into: Uint8Array): void;
  /** Around every call into the guest (the watchdog's clock). */
  enter?(): void;
  leave?(): void;
  exited(result: PluginExit): void;
}

export type Entry = { kind: 'socket'; obj: Socket } | { kind: 'server'; obj: Server };

export class GuestRuntime {
  readonly net: StackApi;
  readonly mem = new GuestMemory();
  /** The guest's handles (counted up from 1, never reused: a HandleTable, as a stack's). */
  readonly handles = new HandleTable<Entry>();
  /** Guest timer id -> the stack's timer id. */
  readonly timers = new Map<number, number>();
  nextTimerId = 1;
  /** Sockets the guest called connect on (a second connect is EISCONN). */
  readonly connectCalled = new WeakSet<Socket>();
  readonly usage: PluginUsage = { sockets: 0, servers: 0, timers: 0, bytesIn: 0, bytesOut: 0, callbacks: 0, cpuMs: 0, memory: 0 };
  #hooks: GuestHooks;
  #exports: Record<string, any> = {};
  #maxBytes: number;
  #next = 1;
  /** How many of the handles are sockets. */
  #sockets = 0;
  #depth = 0;
  #pending: (() => void)[] = [];
  #ended = false;
  #wallOffset: number;

  constructor(module: WebAssembly.Module, net: StackApi, hooks: GuestHooks, maxBytes: number) {
    this.net = net;
    this.#hooks = hooks;
    this.#maxBytes = maxBytes;
    this.#wallOffset = Date.now() - net.now();
    const onSim = net.network !== null;
    const instance = new WebAssembly.Instance(module, {
      wasi_snapshot_preview1: wasiImports(this.mem, {
        args: hooks.args,
        env: hooks.env,
        now: () => net.now(),
        wallNow: () => (onSim ? net.now() : net.now() + this.#wallOffset),
        random: hooks.random,
        output: hooks.output,
      }),
      wasinet_guest: guestImports(this),
    });
    this.#exports = instance.exports;
    this.mem.memory = instance.exports.memory as WebAssembly.Memory;
  }

  get ended(): boolean { return this.#ended; }

  /** Bytes the guest writes to fd 1 or 2 (or logs). */
  output(fd: 1 | 2, bytes: Uint8Array): void { this.#hooks.output(fd, bytes); }

  /** Runs the guest's start: `_initialize`, then `wasinet_main`, if it exports them. */
  start(): void {
    this.run(() => {
      this.call('_initialize');
      this.call('wasinet_main');
    });
  }

  /** A new handle for `entry`. */
  add(entry: Entry): number {
    const h = this.#next++;
    this.handles.set(h, entry);
    if (entry.kind === 'socket') {
      this.#sockets++;
      this.#watchSocket(h, entry.obj);
    } else this.#watchServer(h, entry.obj);
    return h;
  }

  /** The entry of handle `h`; a handle the guest does not hold is a fault. */
  entry(fn: string, h: number, kind?: Entry['kind']): Entry {
    const e = this.handles.get(h);
    if (!e) throw new GuestFault('fault', `${fn}: ${h} is not a handle the guest holds`);
    if (kind && e.kind !== kind) throw new GuestFault('fault', `${fn}: handle ${h} is a ${e.kind}, not a ${kind}`);
    return e;
  }

  /** Calls export `name` if the guest has it. */
  call(name: string, ...args: number[]): any {
    const f = this.#exports[name];
    if (typeof f !== 'function') return undefined;
    this.#depth++;
    this.usage.callbacks++;
    this.#hooks.enter?.();
    const t0 = performance.now();
    GuestFault.pending = null;
    try {
      const result = f(...args);
      if (GuestFault.pending) throw GuestFault.pending;
      return result;
    } finally {
      this.usage.cpuMs += performance.now() - t0;
      this.#hooks.leave?.();
      this.#depth--;
    }
  }

  /** Runs `fn` (which calls the guest) now, or after the guest call under way; ends the guest on a fault. */
  run(fn: () => void): void {
    if (this.#ended) return;
    if (this.#depth > 0) {
      this.#pending.push(fn);
      return;
    }
    try {
      fn();
      while (this.#pending.length > 0 && !this.#ended) this.#pending.shift()!();
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.usage.memory = this.mem.memory!.buffer.byteLength;
    if (!this.#ended && this.handles.size === 0 && this.timers.size === 0) {
      this.end({ reason: 'done', code: 0, message: 'nothing left to do (no socket, server or timer)' });
    }
  }

  /** Ends the guest: every socket and server it had is destroyed, timers cleared, `exited` told once. */
  end(result: PluginExit): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#pending.length = 0;
    for (const e of this.handles.values()) {
      e.obj.removeAllListeners();
      e.obj.on('error', () => {});
      if (e.kind === 'socket') e.obj.destroy();
      else e.obj.close();
    }
    this.handles.clear();
    this.#sockets = 0;
    for (const id of this.timers.values()) this.net.clearTimeout(id);
    this.timers.clear();
    this.#count();
    this.#hooks.exited(result);
  }

  #fail(err: unknown): void {
    if (err instanceof GuestFault) {
      if (err.reason === 'exit') this.end({ reason: 'exit', code: err.code, message: `exited with status ${err.code}` });
      else this.end({ reason: 'fault', code: 1, message: `called an import wrongly: ${err.message}` });
    } else if (err instanceof WebAssembly.RuntimeError || err instanceof RangeError) {
      const size = this.mem.memory!.buffer.byteLength;
      if (size + 65536 > this.#maxBytes) {
        this.end({ reason: 'memory', code: 1, message: `trapped at its memory maximum of ${this.#maxBytes} bytes (${err.message})` });
      } else this.end({ reason: 'trap', code: 1, message: `trapped: ${err.message}` });
    } else {
      this.end({ reason: 'error', code: 1, message: `host error: ${(err as Error)?.stack ?? err}` });
    }
  }

  #count(): void {
    this.usage.sockets = this.#sockets;
    this.usage.servers = this.handles.size - this.#sockets;
    this.usage.timers = this.timers.size;
  }

  #closed(h: number, hadError: boolean): void {
    const e = this.handles.get(h);
    if (e === undefined) return;
    this.handles.delete(h);
    if (e.kind === 'socket') this.#sockets--;
    this.#count();
    this.call('wasinet_on_close', h, hadError ? 1 : 0);
  }

  #watchSocket(h: number, s: Socket): void {
    this.#count();
    s.on('connect', () => this.run(() => this.call('wasinet_on_connect', h)));
    s.on('data', (chunk: Buffer) => this.run(() => this.#data(h, chunk)));
    s.on('end', () => this.run(() => this.call('wasinet_on_end', h)));
    s.on('drain', () => this.run(() => this.call('wasinet_on_drain', h)));
    s.on('timeout', () => this.run(() => this.call('wasinet_on_timeout', h)));
    s.on('error', (err: NodeJS.ErrnoException) => this.run(() => this.call('wasinet_on_error', h, ...errorArgs(err))));
    s.on('close', (hadError: boolean) => this.run(() => this.#closed(h, hadError)));
  }

  #watchServer(h: number, srv: Server): void {
    this.#count();
    srv.on('listening', () => this.run(() => this.call('wasinet_on_listening', h)));
    srv.on('connection', (s: Socket) => this.run(() => {
      if (!this.handles.has(h)) { s.destroy(); return; }
      const sh = this.add({ kind: 'socket', obj: s });
      this.call('wasinet_on_accept', h, sh);
    }));
    // A server that failed to listen is closed: the guest sees error, then close.
    srv.on('error', (err: NodeJS.ErrnoException) => this.run(() => {
      this.call('wasinet_on_error', h, ...errorArgs(err));
      srv.close(() => {});
      this.#closed(h, true);
    }));
    srv.on('close', () => this.run(() => this.#closed(h, false)));
  }

  #data(h: number, chunk: Buffer): void {
    if (typeof this.#exports.wasinet_alloc !== 'function') {
      throw new GuestFault('fault', 'data arrived and the guest exports no wasinet_alloc');
    }
    const ptr = this.call('wasinet_alloc', chunk.length) >>> 0;
    if (ptr === 0) throw new GuestFault('fault', `wasinet_alloc(${chunk.length}) returned 0`);
    this.mem.bytes('wasinet_alloc', ptr, chunk.length).set(chunk);
    this.usage.bytesIn += chunk.length;
    this.call('wasinet_on_data', h, ptr, chunk.length);
  }
}

/** [errno, syscall] of a Node error, as guest numbers (docs/guest.md, "Errors"). */
function errorArgs(err: NodeJS.ErrnoException): [number, number] {
  return [abiErrno(err.code), SYSCALL[err.syscall ?? 'none'] ?? 0];
}
