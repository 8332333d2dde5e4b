// What both node backends share: listening (through node:net's Server, which carries every
// listen rule Node has — dual-stack binds, pipe modes, fds, handles, cluster), the wake-up
// timer, name resolution, and the helpers that turn Node's errors and addresses into the
// core's numbers. The backends differ in how they carry a connection: node.ts drives libuv's
// handles itself, node-public.ts a node:net Socket (the fallback on public APIs only).
//
// These files (node*.ts) are the only ones of wasinet that import node:net (a test checks it).
import net from 'node:net';
import dns from 'node:dns';
import dc from 'node:diagnostics_channel';
import type { Core, Output } from '../core/core.js';
import { Op, SYSCALL, ListenFlag } from '../core/abi.js';
import { abiErrno } from '../core/errno.js';
import { isClusterWorker, type Backend, type SendCarrier, type LookupCallback, type LookupOptions } from './backend.js';
import { WakeTimer } from './runtime-common.js';
import type { TlsCarrier } from './node-tls.js';
import type { TlsState } from './tls-state.js';
import { lazy } from '../lazy.js';

// The credit window and the wake-up timer are the same for every backend on real sockets.
export { CREDIT, creditLeft } from './runtime-common.js';

/**
 * What libuv's try-write takes of a long writev's first call, standing in for it (lateWrite):
 * IOV_MAX empty buffers, so that the bytes after them go through uv_write, whose completion
 * libuv reports from its pending callbacks on the socket's own handle.
 */
export const EMPTY_CALL: readonly Uint8Array[] = Array.from({ length: 1024 }, () => new Uint8Array(0));

export function familyOf(f: string | number | undefined): number {
  return f === 'IPv6' || f === 6 ? 6 : f === 'IPv4' || f === 4 ? 4 : 0;
}

export function syscallOf(err: NodeJS.ErrnoException, fallback: number): number {
  return (err.syscall && SYSCALL[err.syscall]) || fallback;
}

/** A Unix socket path no file system has (a path through a file that is not a directory): pendingPhase. */
export const NO_SUCH_SOCKET = '/dev/null/wasinet';

/**
 * node:net publishes its objects on diagnostics channels ('net.server.socket', the
 * 'net.server.listen' tracing channel). The raw transport's servers and sockets are not what
 * a subscriber watches — wasinet publishes its own (host/net/channels.ts) — so messages about
 * them are dropped: each channel gets an own `publish` that skips them and otherwise does what
 * the channel's class does. (Raw client sockets are made with `new Socket().connect()`, which
 * publishes nothing, unlike net.connect().)
 */
const rawServers = new WeakSet<object>();
function hideRawTransport(name: string, isRaw: (message: { server?: object; socket?: { server?: object } }) => boolean): void {
  const channel = dc.channel(name) as dc.Channel & { publish(message: unknown): void };
  Object.defineProperty(channel, 'publish', {
    configurable: true,
    writable: true,
    value(message: never) {
      if (!isRaw(message)) Object.getPrototypeOf(channel).publish.call(channel, message);
    },
  });
}
hideRawTransport('net.server.socket', (m) => m.socket?.server !== undefined && rawServers.has(m.socket.server));
for (const event of ['start', 'end', 'asyncStart', 'asyncEnd', 'error']) {
  hideRawTransport(`tracing:net.server.listen:${event}`, (m) => m.server !== undefined && rawServers.has(m.server));
}

let trimRaised = false;
/** Reads this long are full ones: the reader is behind its sender. */
const FULL_READ = 65536;

/**
 * Reads arrive in fresh 64 KiB buffers (libuv's, as for node:net), which die young but are
 * freed only at the next scavenge, about 30 MiB of them at a time when little else allocates.
 * glibc then gives the top of its heap back to the kernel (trimming above 128 KiB) and the next
 * reads fault their pages in again: 2–4× the CPU per GiB received, in most runs on a VM. glibc
 * raises its trim threshold to twice the size of an mmapped block when one is freed (blocks
 * under 32 MiB, flag bits included, so just under), so one untouched buffer of that size, freed
 * with the next scavenge, keeps the freed read buffers for reuse: 640–660 ms of CPU per GiB
 * instead of 2,600–3,600 (16 KiB writes received over TCP).
 *
 * Every read's length comes here, and it is done at the first full read (a reader behind its
 * sender: bulk receiving), not at start: the process then keeps up to 64 MiB of freed heap
 * instead of returning it, which a process that only holds idle connections would pay for
 * nothing (about 300 bytes of RSS a connection in the bench's idle cells). No page of the buffer is touched. `WASINET_KEEP_MALLOC=1` leaves
 * the process's malloc alone; see docs/design.md.
 */
export function bulkRead(bytes: number): void {
  if (trimRaised || bytes < FULL_READ) return;
  trimRaised = true;
  if (process.platform !== 'linux' || process.env.WASINET_KEEP_MALLOC) return;
  Buffer.allocUnsafeSlow(32 * 1024 * 1024 - 8192);
}

/**
 * Node's sockets (libuv's) over TCP: a turn's writes of up to 16 KiB leave together, up to
 * 256 KiB at once. Loopback TCP does half the kernel's work per byte from 128 KiB writes on, far
 * more than the batch's two copies cost (docs/benchmark.md, 16 KiB writes); Deno's and Bun's
 * transports gain nothing from it and keep the core's 8 KiB / 64 KiB.
 */
const NODE_TCP_BATCHING = [16384, 262144] as const;

/**
 * The shared half of a node backend: listeners, the timer, DNS. A subclass carries
 * connections: `execConn` runs the commands of sockets, `accept` wires each listener up to
 * deliver its connections, `dropConns`/`connHandle`/`connFd` answer for sockets.
 */
export abstract class NodeBackendBase implements Backend {
  readonly kind = 'node';
  readonly batching = NODE_TCP_BATCHING;
  protected core!: Core;
  #servers = new Map<number, net.Server>();
  /** Listeners whose listen failed at once, their error still to come (listenFailed). */
  #failedAtOnce = new Set<number>();

  listenFailed(h: number): boolean {
    return this.#failedAtOnce.has(h);
  }
  readonly #timer = new WakeTimer(() => this.now(), () => this.core.onTimer());
  #adopted = new Map<number, object>();
  #nextToken = 1;

  /** Carries out a socket's command (everything but LISTEN, TIMER and a listener's CLOSE/REF). */
  protected abstract execConn(o: Output): void;
  /** Makes `srv` (listener `h`) report its connections to the core, once it is bound. */
  protected abstract accept(h: number, srv: net.Server): void;
  /** Drops every connection at once, reporting nothing. */
  protected abstract dropConns(): void;
  protected abstract connHandle(h: number): object | null;
  /**
   * Hands connection `h`'s transport over as a node:net Socket, and forgets it (a TLS session
   * takes the connection over: node-tls.ts); null when there is none.
   */
  abstract releaseConn(h: number): net.Socket | null;

  sendConn(h: number, keepOpen: boolean): SendCarrier | null {
    // A TLS session's connection stays: its state cannot go with the descriptor.
    if (this.tls !== null && this.tls.owns(h)) return null;
    if (keepOpen) {
      const handle = this.connHandle(h);
      return handle === null ? null : { handle };
    }
    const socket = this.releaseConn(h);
    return socket === null ? null : { handle: (socket as unknown as { _handle: object | null })._handle, socket };
  }
  protected abstract connFd(h: number): number;

  userTimers(pending: number): void {
    this.#timer.userTimers(pending);
  }

  /**
   * perf_hooks' clock, taken from the global once: Node 20's global is an accessor (a getter
   * call at every use, 15–20 ns), and perf_hooks' ES module facade cost 1.4 ms of a first stack.
   */
  readonly #clock = performance;

  now(): number {
    return this.#clock.now();
  }

  attach(core: Core): void {
    this.core = core;
    this.#timer.reset();
    this.tls?.attach(core);
  }

  /** The TLS sessions carried below the core (node-tls.ts), made on first use. */
  protected tls: TlsCarrier | null = null;

  tlsConnect(h: number, options: Record<string, unknown>): void {
    if (this.tls === null) {
      this.tls = new (lazy('./backend/node-tls.js').TlsCarrier)(this);
      this.tls.attach(this.core);
    }
    this.tls.expect(h, options);
  }

  tlsState(h: number, news = false): TlsState | null {
    return this.tls === null ? null : this.tls.state(h, news);
  }

  /** Node's own dns.lookup, with net's options object as is (so it validates as Node does). */
  lookup(host: unknown, options: LookupOptions, callback: LookupCallback): void {
    dns.lookup(host as string, options as dns.LookupOptions, callback as never);
  }

  abandon(): void {
    this.tls?.abandon();
    this.dropConns();
    for (const s of this.#servers.values()) {
      s.removeAllListeners();
      s.close();
    }
    this.#servers.clear();
    this.#timer.stop();
  }

  handleObject(h: number): object | null {
    const srv = this.#servers.get(h);
    if (srv) return (srv as unknown as { _handle?: object | null })._handle ?? null;
    return this.connHandle(h);
  }

  fdOf(h: number): number {
    const srv = this.#servers.get(h);
    if (!srv) return this.connFd(h);
    const fd = (srv as unknown as { _handle?: { fd?: number } })._handle?.fd;
    return typeof fd === 'number' ? fd : -1;
  }

  adoptHandle(handle: object): number {
    const token = this.#nextToken++;
    this.#adopted.set(token, handle);
    return token;
  }

  /** The handle object behind a token of adoptHandle (once). */
  protected takeAdopted(token: number): object | undefined {
    const handle = this.#adopted.get(token);
    this.#adopted.delete(token);
    return handle;
  }

  exec(o: Output): void {
    if (this.tls !== null && this.tls.owns(o.h) && o.op !== Op.CMD_LISTEN && o.op !== Op.CMD_TIMER) return this.tls.exec(o);
    switch (o.op) {
      case Op.CMD_LISTEN: return this.#listen(o);
      case Op.CMD_TIMER: return this.#timer.set(o);
      case Op.CMD_CLOSE:
        if (this.#servers.has(o.h)) return this.#closeServer(o.h);
        return this.execConn(o);
      case Op.CMD_REF: {
        const srv = this.#servers.get(o.h);
        if (srv) { if (o.a) srv.ref(); else srv.unref(); return; }
        return this.execConn(o);
      }
      default: return this.execConn(o);
    }
  }

  #closeServer(h: number): void {
    const s = this.#servers.get(h)!;
    this.#servers.delete(h);
    s.removeAllListeners('connection');
    s.on('connection', (raw: net.Socket) => raw.destroy());
    s.close();
  }

  #listen(o: Output): void {
    const h = o.h;
    const flags = o.c;
    const address = o.data ? o.data.toString('utf8') : '';
    const srv = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    rawServers.add(srv);
    this.#servers.set(h, srv);
    let listening = false;
    const bound = () => {
      if (listening) return;
      listening = true;
      this.#roundRobin(h, srv);
      this.accept(h, srv);
      const a = srv.address();
      if (typeof a === 'string' || a === null) this.core.onListening(h, 0, 0, 0, 0, a ?? address);
      else this.core.onListening(h, 0, 0, a.port, familyOf(a.family), a.address);
    };
    srv.on('listening', bound);
    if ((flags & (ListenFlag.Exclusive | ListenFlag.Fd | ListenFlag.Handle)) === 0 && isClusterWorker()) {
      // A worker's shared listen: cluster tells the primary from a 'listening' listener of its own
      // on this server — in Node after the program's listen callback and 'listening' listeners,
      // registered before it. Those are the program's server's (a tick after `bound` here): the
      // rest of this server's listeners (cluster's) run after them.
      const emit = srv.emit as (this: net.Server, event: string | symbol, ...args: unknown[]) => boolean;
      srv.emit = function (this: net.Server, event: string | symbol, ...args: unknown[]): boolean {
        if (event !== 'listening') return emit.call(this, event, ...args);
        bound();
        srv.off('listening', bound);
        process.nextTick(() => process.nextTick(() => emit.call(this, 'listening')));
        return true;
      } as typeof srv.emit;
    }
    srv.on('error', (err: NodeJS.ErrnoException) => {
      if (listening) {
        this.core.onError(h, abiErrno(err.code), syscallOf(err, SYSCALL.accept));
      } else {
        this.#servers.delete(h);
        this.#failedAtOnce.delete(h);
        this.core.onListening(h, abiErrno(err.code), syscallOf(err, SYSCALL.listen), 0, 0, (err as { address?: string }).address ?? '');
      }
    });
    const backlog = o.b || undefined;
    const exclusive = (flags & ListenFlag.Exclusive) !== 0;
    if (flags & ListenFlag.Handle) {
      srv.listen(this.takeAdopted(o.a), backlog);
    } else if (flags & ListenFlag.Fd) {
      srv.listen({ fd: o.a, backlog });
    } else if (flags & ListenFlag.Ipc) {
      srv.listen({
        path: address, backlog, exclusive,
        readableAll: (flags & ListenFlag.ReadableAll) !== 0, writableAll: (flags & ListenFlag.WritableAll) !== 0,
      });
    } else {
      srv.listen({ port: o.a, host: address || undefined, backlog, exclusive, ipv6Only: (flags & ListenFlag.Ipv6Only) !== 0 });
    }
    // Node binds at once unless it must look a host name up first: report it at once too, so
    // address() and `listening` answer right after listen(), as they do in Node. A bind that
    // failed so (no host given: with one, even an IP, Node looks it up first) leaves no handle,
    // its error to come from a tick. (A cluster worker's shared listen — not exclusive, no fd or
    // handle — waits for the primary's handle: no handle yet is no failure there.)
    if (srv.listening) bound();
    else if ((srv as unknown as { _handle: unknown })._handle == null && (address === '' || (flags & (ListenFlag.Ipc | ListenFlag.Fd | ListenFlag.Handle)) !== 0) &&
      (exclusive || (flags & (ListenFlag.Fd | ListenFlag.Handle)) !== 0 || !isClusterWorker())) {
      this.#failedAtOnce.add(h);
    }
  }

  /**
   * In a cluster worker under round-robin scheduling the primary accepts and offers each
   * connection to a worker, whose cluster code declines it (so the primary offers it to
   * another) when the server is at maxConnections — reading the limit from the raw server. The
   * core holds the limit: the raw server answers with it. (The count it compares with is
   * `_connections`: see the backends.)
   */
  #roundRobin(h: number, srv: net.Server): void {
    if (!isRoundRobin(srv)) return;
    const core = this.core;
    Object.defineProperty(srv, 'maxConnections', { get: () => core.maxConnections(h) || undefined, set() {}, configurable: true });
  }
}

/** A cluster worker's server under round-robin: its `_handle` is cluster's stand-in, not a TCP or Pipe. */
export function isRoundRobin(srv: net.Server): boolean {
  const handle = (srv as unknown as { _handle?: { constructor?: { name?: string } } })._handle;
  const name = handle?.constructor?.name;
  return !!handle && name !== 'TCP' && name !== 'Pipe' && isClusterWorker();
}
