// The node backend: real OS sockets (TCP, Unix domain sockets, Windows named pipes) through
// Node's public `net` module, used as a raw transport. This is the only file of wasinet that
// imports node:net (a test checks it).
//
// The raw sockets are configured so that they decide nothing: allowHalfOpen (FIN only when the
// core says SHUTDOWN), created paused (reading only between READ_START and READ_STOP), no
// timeouts, no maxConnections. Credit follows libuv's try-write: a WRITE the kernel takes at
// once is confirmed at once (onWritten with full credit, inside the same call, as Node completes
// such a write synchronously); a WRITE that has to wait leaves the core without credit until
// the kernel takes it. Reads arrive as 'data' chunks and are copied into the core's scratch.
import net from 'node:net';
import dns from 'node:dns';
import dc from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { Core, Output } from '../core/core.js';
import { Op, ERRNO, SYSCALL, ListenFlag, Opt, CONNECT_AT_ONCE } from '../core/abi.js';
import { abiErrno } from '../core/errno.js';
import { getSystemErrorName } from 'node:util';
import { isClusterWorker, type Backend, type LookupCallback, type LookupOptions } from './backend.js';

/** Where client sockets read (see #connect): one read at a time, copied out at once. */
const sharedReadBuffer = Buffer.allocUnsafeSlow(262144);

/** Bytes the transport takes at once when nothing is waiting in it. */
const CREDIT = 1 << 20;

/** The credit left while `held` bytes wait on the way to the kernel. */
function creditLeft(held: number): number {
  return Math.max(0, CREDIT - held);
}

/**
 * The direct write path: libuv's stream write through the socket's handle, as net.Socket's own
 * _write does, skipping the raw socket's Writable (a second stream layer under ours). It uses
 * Node internals (process.binding('stream_wrap')), so it is feature-checked, and the public
 * path (raw.write) remains: set WASINET_NO_INTERNALS=1 to force it. Both are tested.
 */
interface StreamWrap {
  WriteWrap: new () => { handle: unknown; oncomplete: (status: number) => void; async: boolean; bytes: number; buffer: unknown };
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}
const streamWrap: StreamWrap | null = (() => {
  if (process.env.WASINET_NO_INTERNALS) return null;
  try {
    const sw = (process as unknown as { binding(name: string): StreamWrap }).binding('stream_wrap');
    return typeof sw.WriteWrap === 'function' && sw.streamBaseState && typeof sw.kLastWriteWasAsync === 'number' ? sw : null;
  } catch {
    return null;
  }
})();

/** Which write path this process uses: 'internal' (direct to libuv) or 'public' (raw.write). */
export const writePath: 'internal' | 'public' = streamWrap ? 'internal' : 'public';

type Handle = { writeBuffer?: (req: unknown, data: Buffer) => number } | null | undefined;

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

class Conn {
  pending = 0;      // bytes libuv holds in writes it has not completed (the credit they use)
  closed = false;   // the raw socket emitted 'close'
  closing = false;  // the core issued CLOSE: report onClosed once the raw socket is closed
  attemptFailed = false; // the raw socket reported its connect attempt failed (not the call itself)
  connecting: boolean;
  constructor(public raw: net.Socket, connecting: boolean) {
    this.connecting = connecting;
  }
}

function familyOf(f: string | number | undefined): number {
  return f === 'IPv6' || f === 6 ? 6 : f === 'IPv4' || f === 4 ? 4 : 0;
}

function syscallOf(err: NodeJS.ErrnoException, fallback: number): number {
  return (err.syscall && SYSCALL[err.syscall]) || fallback;
}

/** `first NUL second` where only `first` may itself contain NUL (an abstract socket name). */
function split2(data: Buffer | null): [string, string] {
  if (!data) return ['', ''];
  const i = data.lastIndexOf(0);
  return i < 0 ? [data.toString('utf8'), ''] : [data.toString('utf8', 0, i), data.toString('utf8', i + 1)];
}

export class NodeBackend implements Backend {
  readonly kind = 'node';
  #core!: Core;
  #conns = new Map<number, Conn>();
  #servers = new Map<number, net.Server>();
  #timer: NodeJS.Timeout | null = null;
  #timerSeq = 0;
  #spareReq: InstanceType<StreamWrap['WriteWrap']> | null = null; // see #write
  #userTimers = 0;

  userTimers(pending: number): void {
    this.#userTimers = pending;
    if (this.#timer) {
      if (pending > 0) this.#timer.ref();
      else this.#timer.unref();
    }
  }

  now(): number {
    return performance.now();
  }

  attach(core: Core): void {
    this.#core = core;
    this.#timerSeq = 0; // a fresh core counts from 1 again
  }

  /** Node's own dns.lookup, with net's options object as is (so it validates as Node does). */
  lookup(host: unknown, options: LookupOptions, callback: LookupCallback): void {
    dns.lookup(host as string, options as dns.LookupOptions, callback as never);
  }

  abandon(): void {
    for (const c of this.#conns.values()) {
      c.raw.removeAllListeners();
      c.raw.on('error', () => {});
      c.raw.destroy();
    }
    for (const s of this.#servers.values()) {
      s.removeAllListeners();
      s.close();
    }
    this.#conns.clear();
    this.#servers.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  handleObject(h: number): object | null {
    const t = this.#conns.get(h)?.raw ?? this.#servers.get(h);
    return (t as unknown as { _handle?: object | null } | undefined)?._handle ?? null;
  }

  adoptHandle(handle: object): number {
    const token = this.#nextToken++;
    this.#adopted.set(token, handle);
    return token;
  }

  #adopted = new Map<number, object>();
  #nextToken = 1;

  fdOf(h: number): number {
    const t = this.#conns.get(h)?.raw ?? this.#servers.get(h);
    const fd = (t as unknown as { _handle?: { fd?: number } } | undefined)?._handle?.fd;
    return typeof fd === 'number' ? fd : -1;
  }

  exec(o: Output): void {
    switch (o.op) {
      case Op.CMD_CONNECT: return this.#connect(o);
      case Op.CMD_OPEN: return this.#open(o.h, o.a);
      case Op.CMD_LISTEN: return this.#listen(o);
      case Op.CMD_READ_START: {
        const c = this.#conns.get(o.h);
        if (c && !c.closed) {
          c.raw.resume();
          c.raw.read(0); // the transport reads from now on, as Node's own read start (resume() waits a tick)
        }
        return;
      }
      case Op.CMD_READ_STOP: { const c = this.#conns.get(o.h); if (c && !c.closed) c.raw.pause(); return; }
      case Op.CMD_WRITE: return this.#write(o.h, o.data!);
      case Op.CMD_SHUTDOWN: {
        const c = this.#conns.get(o.h);
        if (c && !c.closed) c.raw.end();
        else if (c) this.#core.onShutdown(o.h, 0);
        return;
      }
      case Op.CMD_CLOSE: return this.#close(o.h, o.a === 1);
      case Op.CMD_SET_OPTION: {
        const c = this.#conns.get(o.h);
        if (!c || c.closed) return;
        if (o.a === Opt.NoDelay) c.raw.setNoDelay(o.b !== 0);
        else if (o.a === Opt.KeepAlive) c.raw.setKeepAlive(o.b !== 0, o.c);
        return;
      }
      case Op.CMD_REF: {
        const t = this.#conns.get(o.h)?.raw ?? this.#servers.get(o.h);
        if (t) { if (o.a) t.ref(); else t.unref(); }
        return;
      }
      case Op.CMD_TIMER: {
        if (o.a < this.#timerSeq) return; // a later TIMER already replaced this one
        this.#timerSeq = o.a;
        if (this.#timer) clearTimeout(this.#timer);
        this.#timer = null;
        if (o.c >= 0) {
          this.#timer = setTimeout(() => { this.#timer = null; this.#core.onTimer(); },
            Math.max(0, Math.ceil(o.c - this.now())));
          // Socket timeouts never keep a process alive, as in Node; the stack's own timers do.
          if (this.#userTimers === 0) this.#timer.unref();
        }
        return;
      }
    }
  }

  #connect(o: Output): void {
    const h = o.h;
    const old = this.#conns.get(h);
    if (old) {
      // A new attempt replaces an abandoned one (autoSelectFamily): drop it without a word.
      old.raw.removeAllListeners();
      old.raw.on('error', () => {});
      old.raw.destroy();
    }
    const [address, localAddress] = split2(o.data);
    const family = o.b;
    // The kernel reads into one buffer shared by every client socket (net's public `onread`:
    // no buffer per read), and the core copies each read into its scratch at once. The buffer is
    // never a view of the core's memory: Node records the next read's target only after the
    // callback's microtasks ran, and a write among them may grow Wasm memory and leave that
    // view detached (zero-length: the next read fails with ENOBUFS). (Accepted sockets cannot
    // get onread through the public API: they read through 'data' events.)
    const onread = {
      buffer: sharedReadBuffer,
      callback: (n: number) => { if (this.#conns.get(h)?.raw === raw) this.#core.onDataBorrowed(h, sharedReadBuffer, n); return true; },
    };
    const options: net.NetConnectOpts = family === 0
      ? { path: address, allowHalfOpen: true, onread }
      : {
        host: address, port: o.a, family, allowHalfOpen: true, autoSelectFamily: false,
        localAddress: localAddress || undefined, localPort: o.c || undefined, onread,
      };
    const raw = new net.Socket(options).connect(options);
    raw.pause(); // before any 'data' listener: nothing is read until READ_START
    const conn = new Conn(raw, true);
    raw.once('connectionAttemptFailed', () => { conn.attemptFailed = true; });
    this.#conns.set(h, conn);
    if (family !== 0 && (localAddress || o.c)) {
      // Node emits 'connectionAttempt' once the local bind worked: that is onBound.
      raw.once('connectionAttempt', () => { if (this.#conns.get(h) === conn) this.#core.onBound(h); });
    }
    raw.once('connect', () => {
      conn.connecting = false;
      this.#core.onConnect(h, 0, 0, CREDIT, raw.localPort ?? 0, raw.remotePort ?? 0, familyOf(raw.remoteFamily),
        raw.localAddress ?? '', raw.remoteAddress ?? '');
    });
    this.#wire(h, conn);
  }

  #open(h: number, fd: number): void {
    // Throws Node's own ERR_INVALID_FD_TYPE for a file descriptor that is not a socket or pipe.
    const raw = new net.Socket({ fd, allowHalfOpen: true, pauseOnCreate: true } as net.SocketConstructorOpts);
    const conn = new Conn(raw, false);
    this.#conns.set(h, conn);
    this.#wire(h, conn);
    const family = familyOf(raw.remoteFamily);
    this.#core.onConnect(h, 0, 0, CREDIT, raw.localPort ?? 0, raw.remotePort ?? 0, family,
      raw.localAddress ?? '', raw.remoteAddress ?? '');
  }

  #wire(h: number, conn: Conn): void {
    const raw = conn.raw;
    raw.on('data', (chunk: Buffer) => this.#core.onData(h, chunk));
    raw.on('end', () => this.#core.onEof(h));
    raw.on('finish', () => { if (!conn.closing) this.#core.onShutdown(h, 0); });
    raw.on('error', (err: NodeJS.ErrnoException) => {
      if (conn.closing) return;
      const errno = abiErrno(err.code);
      if (conn.connecting) {
        conn.connecting = false;
        const op = syscallOf(err, SYSCALL.connect);
        if (op === SYSCALL.connect && !conn.attemptFailed) {
          // The connect call itself failed (EINVAL, ENETUNREACH…): Node names the socket's local
          // address in the message, the one part of its error the core cannot know.
          const local = / - Local \((.*)\)$/.exec(err.message)?.[1] ?? '';
          this.#core.onConnect(h, errno, op | CONNECT_AT_ONCE, 0, 0, 0, 0, local, '');
        } else {
          this.#core.onConnect(h, errno, op, 0, 0, 0, 0, '', '');
        }
      } else {
        this.#core.onError(h, errno, syscallOf(err, SYSCALL.read));
      }
    });
    raw.on('close', () => {
      conn.closed = true;
      if (conn.closing) {
        this.#conns.delete(h);
        this.#core.onClosed(h);
      }
    });
  }

  #write(h: number, data: Buffer): void {
    const c = this.#conns.get(h);
    if (!c || c.closed) return;
    const raw = c.raw;
    const n = data.length;
    const core = this.#core;
    const handle = (raw as unknown as { _handle: Handle })._handle;
    if (streamWrap && handle && typeof handle.writeBuffer === 'function' && raw.writableLength === 0) {
      // A write the kernel takes at once never touches its request object again (libuv's
      // try-write), so one request serves every such write; an async write keeps its request
      // until oncomplete, and the next write gets a fresh one.
      const req = this.#spareReq ?? new streamWrap.WriteWrap();
      this.#spareReq = null;
      req.handle = handle;
      req.async = false;
      req.bytes = 0;
      req.buffer = null;
      const err = handle.writeBuffer(req, data);
      if (err !== 0) {
        this.#spareReq = req;
        core.onError(h, abiErrno(getSystemErrorName(err)), SYSCALL.write);
      } else if (!streamWrap.streamBaseState[streamWrap.kLastWriteWasAsync]) {
        this.#spareReq = req;
        core.release(data); // the kernel took it all: confirmed now, as libuv's try-write
        core.onWritten(h, n, creditLeft(c.pending));
      } else {
        req.buffer = data; // libuv holds it (and writes it as the socket drains) until oncomplete
        req.oncomplete = (status: number) => {
          if (c.closing) return;
          c.pending -= n;
          core.release(data);
          if (status < 0) core.onError(h, abiErrno(getSystemErrorName(status)), SYSCALL.write);
          else core.onWritten(h, n, creditLeft(c.pending));
        };
        c.pending += n;
        core.onWritten(h, 0, creditLeft(c.pending));
      }
      return;
    }
    let reported = false;
    raw.write(data, (err) => {
      if (err || reported || c.closing) return; // errors arrive through 'error'
      reported = true;
      core.release(data);
      core.onWritten(h, n, creditLeft(raw.writableLength));
    });
    if (reported) return;
    if (raw.writableLength === 0) {
      reported = true; // the kernel took it all: confirmed now, as libuv's try-write
      core.release(data);
      core.onWritten(h, n, CREDIT);
    } else {
      // Queued on the way to the kernel: it holds that much of the credit until it drains.
      this.#core.onWritten(h, 0, creditLeft(raw.writableLength));
    }
  }

  #close(h: number, reset: boolean): void {
    if (this.#servers.has(h)) {
      const s = this.#servers.get(h)!;
      this.#servers.delete(h);
      s.removeAllListeners('connection');
      s.on('connection', (raw: net.Socket) => raw.destroy());
      s.close();
      return;
    }
    const c = this.#conns.get(h);
    if (!c) {
      process.nextTick(() => this.#core.onClosed(h)); // nothing was opened: closed already
      return;
    }
    c.closing = true;
    if (c.closed) {
      this.#conns.delete(h);
      process.nextTick(() => this.#core.onClosed(h));
    } else if (reset && !c.connecting) {
      c.raw.resetAndDestroy();
    } else {
      c.raw.destroy();
    }
  }

  #listen(o: Output): void {
    const h = o.h;
    const flags = o.c;
    const address = o.data ? o.data.toString('utf8') : '';
    if ((flags & ListenFlag.Fd) && o.a < 0) { // not a descriptor (host/net passes -1 for one beyond int32)
      this.#core.onListening(h, ERRNO.EINVAL, SYSCALL.listen, 0, 0, '');
      return;
    }
    const srv = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    rawServers.add(srv);
    this.#servers.set(h, srv);
    let listening = false;
    srv.on('connection', (raw: net.Socket) => {
      const family = familyOf(raw.remoteFamily);
      this.#core.onConnection(h, CREDIT, family, raw.localPort ?? 0, raw.remotePort ?? 0,
        raw.localAddress ?? '', raw.remoteAddress ?? '', (sh) => {
          const conn = new Conn(raw, false);
          this.#conns.set(sh, conn);
          this.#wire(sh, conn);
        });
    });
    const bound = () => {
      if (listening) return;
      listening = true;
      this.#roundRobin(h, srv);
      const a = srv.address();
      if (typeof a === 'string' || a === null) this.#core.onListening(h, 0, 0, 0, 0, a ?? address);
      else this.#core.onListening(h, 0, 0, a.port, familyOf(a.family), a.address);
    };
    srv.on('listening', bound);
    srv.on('error', (err: NodeJS.ErrnoException) => {
      if (listening) {
        this.#core.onError(h, abiErrno(err.code), syscallOf(err, SYSCALL.accept));
      } else {
        this.#servers.delete(h);
        this.#core.onListening(h, abiErrno(err.code), syscallOf(err, SYSCALL.listen), 0, 0, (err as { address?: string }).address ?? '');
      }
    });
    const backlog = o.b || undefined;
    const exclusive = (flags & ListenFlag.Exclusive) !== 0;
    if (flags & ListenFlag.Handle) {
      const handle = this.#adopted.get(o.a);
      this.#adopted.delete(o.a);
      srv.listen(handle, backlog);
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
    // address() and `listening` answer right after listen(), as they do in Node.
    if (srv.listening) bound();
  }

  /**
   * In a cluster worker under round-robin scheduling the primary accepts and offers each
   * connection to a worker, whose cluster code declines it (so the primary offers it to
   * another) when the server is at maxConnections — reading the limit and the count from the
   * raw server. The core holds the limit: the raw server answers with it. (Its own count of
   * open raw sockets is the core's count of this listener's connections, and Node's close of
   * the raw server waits on that count: it is left alone.)
   */
  #roundRobin(h: number, srv: net.Server): void {
    const handle = (srv as unknown as { _handle?: { constructor?: { name?: string } } })._handle;
    const name = handle?.constructor?.name;
    if (!handle || name === 'TCP' || name === 'Pipe' || !isClusterWorker()) return;
    const core = this.#core;
    Object.defineProperty(srv, 'maxConnections', { get: () => core.maxConnections(h) || undefined, set() {}, configurable: true });
  }
}

// net's address utilities carry no socket logic: wasinet offers node:net's own.
export const BlockList = net.BlockList;
export const SocketAddress = net.SocketAddress;
