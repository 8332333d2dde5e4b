// The node backend on public APIs only: each connection is a node:net Socket used as a raw
// transport. It is the fallback where Node's internals (node.ts) are not available, and the
// reference the internal one is checked against: `WASINET_BACKEND=public` selects it, and the
// whole test suite runs on it too.
//
// The raw sockets are configured so that they decide nothing: allowHalfOpen (FIN only when the
// core says SHUTDOWN), created paused (reading only between READ_START and READ_STOP), no
// timeouts, no maxConnections. Credit follows libuv's try-write: a WRITE the kernel takes at
// once (the raw socket's Writable is left empty) is confirmed at once, inside the same call, as
// Node completes such a write synchronously; a WRITE that has to wait leaves the core without
// credit until it drains. Client sockets read with `onread` into one shared buffer; accepted
// sockets (no onread through the public API) through 'data' events.
import net from 'node:net';
import type { Output } from '../core/core.js';
import { Op, SYSCALL, Opt, CONNECT_AT_ONCE } from '../core/abi.js';
import { abiErrno } from '../core/errno.js';
import { NodeBackendBase, CREDIT, creditLeft, familyOf, syscallOf, bulkRead, NO_SUCH_SOCKET, EMPTY_CALL } from './node-common.js';
import { HandleTable } from '../core/handle-table.js';
import { splitNames } from '../core/names.js';

/** Where client sockets read (see #connect): one read at a time, copied out at once. */
const sharedReadBuffer = Buffer.allocUnsafeSlow(65536); // Node's read size

/** Closes a raw socket that reports to nobody any more. */
function dropRaw(raw: net.Socket): void {
  raw.removeAllListeners();
  raw.on('error', () => {});
  raw.destroy();
}

export class Conn {
  closed = false;   // the raw socket emitted 'close'
  closing = false;  // the core issued CLOSE: report onClosed once the raw socket is closed
  attemptFailed = false; // the raw socket reported its connect attempt failed (not the call itself)
  errorReported = false; // a write failed at once and the core was told (its 'error' event comes later)
  /** The listeners wire() put on the raw socket (taken off when a TLS session takes it over: releaseConn). */
  wired: [string, (...args: any[]) => void][] = [];
  connecting: boolean;
  constructor(public raw: net.Socket, connecting: boolean) {
    this.connecting = connecting;
  }
}

export class PublicNodeBackend extends NodeBackendBase {
  readonly transport = 'public';
  protected readonly conns = new HandleTable<Conn>();

  protected connHandle(h: number): object | null {
    return (this.conns.get(h)?.raw as unknown as { _handle?: object | null } | undefined)?._handle ?? null;
  }

  /**
   * Runs `fn` in libuv's close phase with public APIs only: a node:net Socket makes its handle at
   * connect() and would connect to an address literal a tick later; destroyed at once, it only
   * closes that handle, and its 'close' comes from the close phase.
   */
  closePhase(fn: () => void): void {
    const s = new net.Socket();
    s.once('close', () => fn());
    s.connect({ port: 9, host: '127.0.0.1' });
    s.destroy();
  }

  /**
   * Runs `fn` in libuv's pending callbacks with public APIs only: a node:net Socket's connect to
   * a Unix socket path that cannot exist fails at once, libuv reports it from there, and the
   * Socket's 'error' follows in that callback's ticks.
   */
  pendingPhase(fn: () => void): void {
    const s = new net.Socket();
    s.once('error', () => fn());
    s.connect({ path: NO_SUCH_SOCKET });
  }

  /** A connection's local name, asked for while it connects (it has it from the connect call on). */
  localName(h: number): { address: string; port: number } | null {
    const c = this.conns.get(h);
    if (!c || c.closing) return null;
    const a = c.raw.address() as { address?: string; port?: number };
    return typeof a.address === 'string' && a.address !== '' ? { address: a.address, port: a.port ?? 0 } : null;
  }

  /** A connection's peer name, asked for on first use (the raw socket's getpeername then). */
  peerName(h: number): { address: string; port: number } | null {
    const c = this.conns.get(h);
    if (!c || c.closing) return null;
    const address = c.raw.remoteAddress;
    return typeof address === 'string' && address !== '' ? { address, port: c.raw.remotePort ?? 0 } : null;
  }

  protected connFd(h: number): number {
    const fd = (this.conns.get(h)?.raw as unknown as { _handle?: { fd?: number } } | undefined)?._handle?.fd;
    return typeof fd === 'number' ? fd : -1;
  }

  protected dropConns(): void {
    this.#released.clear();
    for (const c of this.conns.values()) dropRaw(c.raw);
    this.conns.clear();
  }

  protected accept(h: number, srv: net.Server): void {
    srv.on('connection', (raw: net.Socket) => {
      const family = familyOf(raw.remoteFamily);
      this.core.onConnection(h, CREDIT, family, raw.localPort ?? 0, raw.remotePort ?? 0,
        raw.localAddress ?? '', raw.remoteAddress ?? '', (sh) => {
          const conn = new Conn(raw, false);
          this.conns.set(sh, conn);
          this.wire(sh, conn);
        });
    });
  }

  protected execConn(o: Output): void {
    switch (o.op) {
      case Op.CMD_CONNECT: return this.connect(o);
      case Op.CMD_OPEN: return this.#open(o.h, o.b === 1 ? { handle: this.takeAdopted(o.a) } : { fd: o.a });
      case Op.CMD_READ_START: {
        const c = this.conns.get(o.h);
        if (c && !c.closed) {
          c.raw.resume();
          c.raw.read(0); // the transport reads from now on, as Node's own read start (resume() waits a tick)
        }
        return;
      }
      case Op.CMD_READ_STOP: { const c = this.conns.get(o.h); if (c && !c.closed) c.raw.pause(); return; }
      case Op.CMD_WRITE: return this.#write(o.h, o.data!);
      case Op.CMD_SHUTDOWN: {
        const c = this.conns.get(o.h);
        if (c && !c.closed) c.raw.end();
        else if (c) this.core.onShutdown(o.h, 0);
        return;
      }
      case Op.CMD_CLOSE: return this.#close(o.h, o.a === 1);
      case Op.CMD_SET_OPTION: {
        const c = this.conns.get(o.h);
        if (!c || c.closed) return;
        if (o.a === Opt.NoDelay) c.raw.setNoDelay(o.b !== 0);
        else if (o.a === Opt.KeepAlive) c.raw.setKeepAlive(o.b !== 0, o.c);
        return;
      }
      case Op.CMD_REF: {
        const c = this.conns.get(o.h);
        if (c) { if (o.a) c.raw.ref(); else c.raw.unref(); }
        return;
      }
    }
  }

  /** A new attempt of `h` replaces an abandoned one (autoSelectFamily): drops that one without a word. */
  protected dropAttempt(h: number): void {
    const old = this.conns.get(h);
    if (old) dropRaw(old.raw);
  }

  protected connect(o: Output): void {
    const h = o.h;
    this.dropAttempt(h);
    const [address, localAddress] = splitNames(o.data);
    const family = o.b;
    // The kernel reads into one buffer shared by every client socket (net's public `onread`:
    // no buffer per read), and the core copies each read into its scratch at once. The buffer is
    // never a view of the core's memory: Node records the next read's target only after the
    // callback's microtasks ran, and a write among them may grow Wasm memory and leave that
    // view detached (zero-length: the next read fails with ENOBUFS).
    const onread = {
      buffer: sharedReadBuffer,
      callback: (n: number) => {
        bulkRead(n); // DATA copies each read out into a fresh buffer
        if (this.conns.get(h)?.raw === raw) this.core.onDataBorrowed(h, sharedReadBuffer, n);
        return true;
      },
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
    this.conns.set(h, conn);
    if (family !== 0 && (localAddress || o.c)) {
      // Node emits 'connectionAttempt' once the local bind worked: that is onBound.
      raw.once('connectionAttempt', () => { if (this.conns.get(h) === conn) this.core.onBound(h); });
    }
    raw.once('connect', () => {
      conn.connecting = false;
      // The peer's name only when the application asks for it (peerName): node:net asks
      // getpeername at the first read of remoteAddress, which gives none once the peer reset.
      this.core.onConnect(h, 0, 0, CREDIT, raw.localPort ?? 0, 0, family, raw.localAddress ?? '', '');
    });
    this.wire(h, conn);
  }

  #open(h: number, what: { fd: number } | { handle: unknown }): void {
    // Throws Node's own ERR_INVALID_FD_TYPE for a file descriptor that is not a socket or pipe.
    const raw = new net.Socket({ ...what, allowHalfOpen: true, pauseOnCreate: true } as unknown as net.SocketConstructorOpts);
    const conn = new Conn(raw, false);
    this.conns.set(h, conn);
    this.wire(h, conn);
    const family = familyOf(raw.remoteFamily);
    this.core.onConnect(h, 0, 0, CREDIT, raw.localPort ?? 0, raw.remotePort ?? 0, family,
      raw.localAddress ?? '', raw.remoteAddress ?? '');
  }

  releaseConn(h: number): net.Socket | null {
    const c = this.conns.get(h);
    if (!c || c.closed || c.closing || c.connecting) return null;
    for (const [event, fn] of c.wired) c.raw.removeListener(event, fn);
    this.conns.delete(h);
    this.#late.delete(h);
    this.#released.add(h);
    return c.raw;
  }

  /** Handles whose connection a TLS session took over (releaseConn): their CLOSE has nothing left to close. */
  #released = new Set<number>();

  protected wire(h: number, conn: Conn): void {
    const raw = conn.raw;
    const on = (event: string, fn: (...args: any[]) => void): void => {
      raw.on(event, fn);
      conn.wired.push([event, fn]);
    };
    on('data', (chunk: Buffer) => {
      bulkRead(chunk.length);
      this.core.onData(h, chunk);
    });
    on('end', () => this.core.onEof(h));
    on('finish', () => { if (!conn.closing) this.core.onShutdown(h, 0); });
    on('error', (err: NodeJS.ErrnoException) => {
      if (conn.closing) {
        // resetAndDestroy() refused (a shutdown under way): the raw socket stays open, as Node's.
        if (err.syscall === 'reset') this.core.onError(h, abiErrno(err.code), SYSCALL.reset);
        return;
      }
      if (conn.errorReported) return;
      const errno = abiErrno(err.code);
      if (conn.connecting) {
        conn.connecting = false;
        const op = syscallOf(err, SYSCALL.connect);
        if (op === SYSCALL.connect && !conn.attemptFailed) {
          // The connect call itself failed (EINVAL, ENETUNREACH…): Node names the socket's local
          // address in the message, the one part of its error the core cannot know.
          const local = / - Local \((.*)\)$/.exec(err.message)?.[1] ?? '';
          this.core.onConnect(h, errno, op | CONNECT_AT_ONCE, 0, 0, 0, 0, local, '');
        } else {
          this.core.onConnect(h, errno, op, 0, 0, 0, 0, '', '');
        }
      } else {
        this.core.onError(h, errno, syscallOf(err, SYSCALL.read));
      }
    });
    on('close', () => this.rawClosed(h, conn));
  }

  /** Connection `h`'s raw socket closed: reported once the core has asked to close it. */
  protected rawClosed(h: number, conn: Conn): void {
    conn.closed = true;
    if (conn.closing) {
      this.conns.delete(h);
      this.core.onClosed(h);
    }
  }

  #write(h: number, data: Buffer): void {
    const c = this.conns.get(h);
    if (!c || c.closed) return;
    const raw = c.raw;
    const n = data.length;
    const core = this.core;
    let reported = false;
    const written = this.later((err?: Error | null): void => {
      if (err || reported || c.closing) return; // errors arrive through 'error'
      reported = true;
      core.release(data);
      core.onWritten(h, n, creditLeft(raw.writableLength));
    });
    if (this.#late.size > 0 && this.#late.delete(h)) {
      // A long writev's second call (lateWrite): one writev of the raw socket whose first
      // IOV_MAX buffers are empty, so that libuv sends the bytes through uv_write.
      raw.cork();
      for (const e of EMPTY_CALL) raw.write(e);
      raw.write(data, written);
      raw.uncork();
    } else {
      raw.write(data, written);
    }
    if (reported) return;
    const failed = (raw as unknown as { errored?: NodeJS.ErrnoException | null }).errored;
    if (failed) {
      // The kernel refused it at once (EPIPE, say): a failed write, as libuv reports it.
      reported = true;
      c.errorReported = true;
      core.onError(h, abiErrno(failed.code), syscallOf(failed, SYSCALL.write));
    } else if (raw.writableLength === 0) {
      reported = true; // the kernel took it all: confirmed now, as libuv's try-write
      core.release(data);
      core.onWritten(h, n, CREDIT);
    } else {
      // Queued on the way to the kernel: it holds that much of the credit until it drains.
      core.onWritten(h, 0, creditLeft(raw.writableLength));
    }
  }

  /** How the completion of a WRITE the raw socket did not finish in the call reaches the core (node-tls.ts defers it). */
  protected later(done: (err?: Error | null) => void): (err?: Error | null) => void {
    return done;
  }

  /** Handles whose next WRITE is a long writev's second call (Backend.lateWrite). */
  #late = new Set<number>();

  lateWrite(h: number): void {
    if (this.tls === null || !this.tls.owns(h)) this.#late.add(h); // a TLS session's writes are not libuv's
  }

  #close(h: number, reset: boolean): void {
    this.#late.delete(h);
    const c = this.conns.get(h);
    if (!c) {
      // A connection a TLS session took over: closed in the close phase, as the node backend
      // closes a handle it has no connection for (the session's own close comes later).
      if (this.#released.size > 0 && this.#released.delete(h)) this.closePhase(() => this.core.onClosed(h));
      else process.nextTick(() => this.core.onClosed(h)); // nothing was opened: closed already
      return;
    }
    c.closing = true;
    if (c.closed) {
      this.conns.delete(h);
      process.nextTick(() => this.core.onClosed(h));
    } else if (reset && !c.connecting) {
      c.raw.resetAndDestroy();
    } else {
      c.raw.destroy();
    }
  }
}
