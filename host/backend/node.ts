// The node backend: real OS sockets (TCP, Unix domain sockets, Windows named pipes) on libuv's
// own handles — the TCP and Pipe wraps that node:net itself is built on — with no node:net
// Socket in between: one stream layer per connection, wasinet's.
//
// Each connection is one libuv handle, and the core's commands map onto its calls one to one:
// CONNECT → connect/connect6 (after bind/bind6 for a local address), READ_START/READ_STOP →
// readStart/readStop, WRITE → writeBuffer, SHUTDOWN → shutdown, CLOSE → close (or reset),
// SET_OPTION → setNoDelay/setKeepAlive, REF → ref/unref. Reads are libuv's own, as Node's: the
// kernel reads into a buffer of the read's size that Node allocates for it, the core is offered
// it without a copy (Core#onData), and a flowing socket hands that same buffer to 'data' — the
// core copies bytes into its memory only when it queues them. An idle socket holds no buffer.
// (Reading into the core's scratch instead cost a copy out of it into a fresh buffer per read,
// and that copy took the page faults of the fresh memory: see docs/design.md.) Credit follows libuv's try-write:
// a WRITE the kernel takes at once is confirmed at once (inside the same call, as Node
// completes such a write synchronously); one that has to wait holds that much credit until
// libuv completes it.
//
// Listening goes through node:net's Server (node-common.ts: every listen rule of Node, cluster
// included), but its connections never become node:net Sockets: the listener's libuv handle
// hands each one to the core as a bare handle (`onconnection`).
//
// These bindings (process.binding('tcp_wrap'), 'pipe_wrap', 'stream_wrap') are Node internals:
// they are feature-checked at load, and without them — or with WASINET_BACKEND=public —
// wasinet uses node-public.ts, on public APIs only.
//
// Why this file is over 400 lines: it is one mapping, command by command and event by event,
// between the core and libuv's handles (connect, read, write, shutdown, close, accept, adopt);
// what is shared with the public backend already lives in node-common.ts.
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { Output } from '../core/core.js';
import { Op, ERRNO, SYSCALL, Opt, CONNECT_AT_ONCE } from '../core/abi.js';
import { abiErrno } from '../core/errno.js';
import { NodeBackendBase, CREDIT, creditLeft, familyOf, isRoundRobin, bulkRead, NO_SUCH_SOCKET, EMPTY_CALL } from './node-common.js';
import { lazy } from '../lazy.js';
import { HandleTable } from '../core/handle-table.js';
import { splitNames } from '../core/names.js';

/** Read once: Node 20's global Buffer is an accessor, a getter call at every use. */
const Buffer = globalThis.Buffer;

// ---------------------------------------------------------------- the bindings

interface Req { oncomplete: Function; handle?: unknown; async?: boolean; bytes?: number; buffer?: unknown; [k: string]: unknown }
interface Addr { address?: string; family?: string; port?: number }

/** What wasinet calls on a libuv stream handle (TCP or Pipe). */
export interface UvStream {
  onread: ((this: UvStream, buf?: ArrayBuffer) => void) | null;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: Req, data: Uint8Array): number;
  writev?(req: Req, chunks: Uint8Array[], allBuffers: boolean): number;
  shutdown(req: Req): number;
  close(cb?: () => void): void;
  ref(): void;
  unref(): void;
  fd: number;
  bind?(address: string, port: number): number;
  bind6?(address: string, port: number, flags: number): number;
  connect(req: Req, address: string, port?: number): number;
  connect6?(req: Req, address: string, port: number): number;
  getsockname?(out: Addr): number;
  getpeername?(out: Addr): number;
  setNoDelay?(on: boolean): number;
  setKeepAlive?(on: boolean, delaySecs: number): number;
  reset?(cb: () => void): number;
  /** wasinet's: the core handle of the connection this handle carries (kH). */
  [key: symbol]: unknown;
}

interface Bindings {
  TCP: new (type: number) => UvStream;
  TCPConnectWrap: new () => Req;
  Pipe: new (type: number) => UvStream;
  PipeConnectWrap: new () => Req;
  ShutdownWrap: new () => Req;
  WriteWrap: new () => Req;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
  TCP_SOCKET: number;
  PIPE_SOCKET: number;
  UV_EOF: number;
  UV_EADDRINUSE: number;
}


function loadBindings(): Bindings | null {
  const env = process.env;
  if (env.WASINET_BACKEND === 'public' || env.WASINET_NO_INTERNALS) return null;
  try {
    const binding = (process as unknown as { binding(name: string): any }).binding;
    const tcp = binding('tcp_wrap');
    const pipe = binding('pipe_wrap');
    const stream = binding('stream_wrap');
    const uv = binding('uv');
    const b: Bindings = {
      TCP: tcp.TCP, TCPConnectWrap: tcp.TCPConnectWrap, Pipe: pipe.Pipe, PipeConnectWrap: pipe.PipeConnectWrap,
      ShutdownWrap: stream.ShutdownWrap, WriteWrap: stream.WriteWrap, streamBaseState: stream.streamBaseState,
      kReadBytesOrError: stream.kReadBytesOrError, kArrayBufferOffset: stream.kArrayBufferOffset, kLastWriteWasAsync: stream.kLastWriteWasAsync,
      TCP_SOCKET: tcp.constants?.SOCKET, PIPE_SOCKET: pipe.constants?.SOCKET, UV_EOF: uv.UV_EOF,
      UV_EADDRINUSE: uv.UV_EADDRINUSE,
    };
    const proto = b.TCP?.prototype as unknown as Record<string, unknown> | undefined;
    const ok = typeof b.TCP === 'function' && typeof b.Pipe === 'function' && typeof b.TCPConnectWrap === 'function' &&
      typeof b.PipeConnectWrap === 'function' && typeof b.ShutdownWrap === 'function' && typeof b.WriteWrap === 'function' &&
      b.streamBaseState instanceof Int32Array && typeof b.kReadBytesOrError === 'number' && typeof b.kArrayBufferOffset === 'number' &&
      typeof b.kLastWriteWasAsync === 'number' && typeof b.TCP_SOCKET === 'number' && typeof b.PIPE_SOCKET === 'number' &&
      typeof b.UV_EOF === 'number' && typeof b.UV_EADDRINUSE === 'number' && proto !== undefined &&
      ['readStart', 'readStop', 'writeBuffer', 'shutdown', 'close', 'connect', 'connect6', 'bind',
        'bind6', 'getsockname', 'getpeername', 'setNoDelay', 'setKeepAlive'].every((m) => typeof proto[m] === 'function');
    return ok ? b : null;
  } catch {
    return null;
  }
}

const uv = loadBindings();

/** Which transport the node backend uses in this process: 'libuv' (handles) or 'public' (node:net Sockets). */
export const nodeTransport: 'libuv' | 'public' = uv ? 'libuv' : 'public';

function errnoOf(err: number): number {
  return abiErrno(getSystemErrorName(err));
}

// ---------------------------------------------------------------- connections

// A connection is its libuv handle and nothing more: the handle keeps the core's handle number
// in a slot (kH; 0 once the core closed it), the backend's map finds the handle by number, and
// the bytes libuv still holds in writes are kept apart (#pending) for the few sockets that
// have any. The slot is node's own owner_symbol, which every TCP wrap has from its template:
// a property of our own would grow each handle's property store (24 bytes a connection).
let kH: symbol | null = null;

function ownerSlot(): symbol {
  const probe = new uv!.TCP(uv!.TCP_SOCKET);
  const key = Object.getOwnPropertySymbols(probe).find((k) => k.description === 'owner_symbol');
  probe.close();
  return key ?? Symbol('wasinet.h');
}

function hOf(handle: UvStream): number {
  return handle[kH!] as number;
}

function addressesOf(handle: UvStream): { family: number; local: Addr; remote: Addr } {
  const local: Addr = {};
  const remote: Addr = {};
  if (handle.getsockname) handle.getsockname(local);
  if (handle.getpeername) handle.getpeername(remote);
  return { family: familyOf(remote.family ?? local.family), local, remote };
}

/** One name of a connection's handle, asked for on first use; null when it is gone. */
function nameOf(handle: UvStream | null, which: 'getsockname' | 'getpeername'): { address: string; port: number } | null {
  const out: Addr = {};
  const ask = handle?.[which];
  if (handle === null || !ask || ask.call(handle, out) !== 0 || out.address === undefined) return null;
  return { address: out.address, port: out.port ?? 0 };
}

export class NodeBackend extends NodeBackendBase {
  readonly transport = 'libuv';
  #conns = new HandleTable<UvStream>();
  #pending = new HandleTable<number>(); // bytes libuv holds in writes it has not completed (the credit they use)
  #spareReq: Req | null = null; // see #write
  /** Every handle's `onread`: one function per backend, the connection found on the handle. */
  readonly #onread = ((backend: NodeBackend) => function onread(this: UvStream, buf?: ArrayBuffer): void {
    const h = hOf(this);
    if (!h) return;
    const state = uv!.streamBaseState;
    const nread = state[uv!.kReadBytesOrError];
    const core = backend.core;
    if (nread > 0) {
      bulkRead(nread);
      core.onData(h, Buffer.from(buf!, state[uv!.kArrayBufferOffset], nread));
    } else if (nread === uv!.UV_EOF) core.onEof(h);
    else if (nread < 0) core.onError(h, errnoOf(nread), SYSCALL.read);
  })(this);

  protected connHandle(h: number): object | null {
    return this.#conns.get(h) ?? null;
  }

  protected connFd(h: number): number {
    const fd = this.#conns.get(h)?.fd;
    return typeof fd === 'number' ? fd : -1;
  }

  protected dropConns(): void {
    for (const handle of this.#conns.values()) {
      handle[kH!] = 0;
      handle.close();
    }
    this.#conns.clear();
    this.#pending.clear();
  }

  protected accept(h: number, srv: net.Server): void {
    const server = srv as unknown as { _handle: { onconnection: Function } | null; _connections: number };
    if (isRoundRobin(srv)) {
      // The cluster worker's own check compares `_connections` with maxConnections: the core
      // has the count (net's own onconnection, which counted, never runs). Once the server is
      // closed it counts nothing, so a worker that disconnects can close it.
      const core = this.core;
      Object.defineProperty(srv, '_connections', {
        get: () => (server._handle ? Math.max(0, core.connections(h)) : 0), set() {}, configurable: true,
      });
    }
    if (!server._handle) return;
    // The listener's family (4 or 6) for a TCP listener; 0 for a pipe, whose names cost nothing.
    const bound = srv.address();
    const tcpFamily = bound !== null && typeof bound === 'object' && server._handle instanceof uv!.TCP ? familyOf(bound.family) : 0;
    server._handle.onconnection = (err: number, client: UvStream) => {
      if (err) {
        this.core.onError(h, errnoOf(err), SYSCALL.accept);
        return;
      }
      if (tcpFamily !== 0 && !this.core.dropsNext(h)) {
        // A TCP connection's names only when the application asks for them (localName,
        // peerName), as node:net calls getsockname and getpeername only then: two system calls
        // fewer per connection. Its family is the listener's (a dual-stack listener's
        // connections are IPv6, v4-mapped). A connection the core will drop for maxConnections
        // has its names now: the server's 'drop' event gives them.
        this.core.onConnection(h, CREDIT, tcpFamily, 0, 0, '', '', (sh) => this.#adopt(sh, client));
        return;
      }
      const { family, local, remote } = addressesOf(client);
      this.core.onConnection(h, CREDIT, family, local.port ?? 0, remote.port ?? 0,
        local.address ?? '', remote.address ?? '', (sh) => this.#adopt(sh, client));
    };
  }

  #adopt(h: number, handle: UvStream): UvStream {
    kH ??= ownerSlot();
    handle[kH] = h;
    handle.onread = this.#onread;
    this.#conns.set(h, handle);
    return handle;
  }

  releaseConn(h: number): net.Socket | null {
    const handle = this.#live(h);
    if (handle === null) return null;
    handle.readStop();
    handle[kH!] = 0; // its reads and write completions find no connection here any more
    this.#conns.delete(h);
    this.#pending.delete(h);
    this.#late.delete(h);
    return new net.Socket({ handle, allowHalfOpen: true, manualStart: true } as net.SocketConstructorOpts);
  }

  localName(h: number): { address: string; port: number } | null { return nameOf(this.#live(h), 'getsockname'); }
  peerName(h: number): { address: string; port: number } | null { return nameOf(this.#live(h), 'getpeername'); }

  /** The open handle of `h`, or null when there is none or the core closed it. */
  #live(h: number): UvStream | null {
    const handle = this.#conns.get(h);
    return handle !== undefined && hOf(handle) === h ? handle : null;
  }

  protected execConn(o: Output): void {
    switch (o.op) {
      case Op.CMD_CONNECT: return this.#connect(o);
      case Op.CMD_OPEN: return o.b === 1 ? this.#openHandle(o.h, this.takeAdopted(o.a) as UvStream) : this.#open(o.h, o.a);
      case Op.CMD_READ_START: {
        const handle = this.#live(o.h);
        if (handle === null) return;
        const err = handle.readStart();
        // EALREADY: an adopted handle (new Socket({ handle })) that was reading already.
        if (err && errnoOf(err) !== ERRNO.EALREADY) this.core.onError(o.h, errnoOf(err), SYSCALL.read);
        return;
      }
      case Op.CMD_READ_STOP: {
        this.#live(o.h)?.readStop();
        return;
      }
      case Op.CMD_WRITE: return this.#write(o.h, o.data!);
      case Op.CMD_SHUTDOWN: return this.#shutdown(o.h);
      case Op.CMD_CLOSE: return this.#close(o.h, o.a === 1);
      case Op.CMD_SET_OPTION: {
        const handle = this.#live(o.h);
        if (handle === null) return;
        if (o.a === Opt.NoDelay) handle.setNoDelay?.(o.b !== 0);
        else if (o.a === Opt.KeepAlive) handle.setKeepAlive?.(o.b !== 0, Math.floor(o.c / 1000));
        return;
      }
      case Op.CMD_REF: {
        const handle = this.#live(o.h);
        if (handle !== null) { if (o.a) handle.ref(); else handle.unref(); }
        return;
      }
    }
  }

  #connect(o: Output): void {
    const h = o.h;
    const old = this.#conns.get(h);
    if (old) {
      // A new attempt replaces an abandoned one (autoSelectFamily): drop it without a word.
      old[kH!] = 0;
      old.close();
      this.#conns.delete(h);
    }
    const [address, localAddress] = splitNames(o.data);
    const family = o.b;
    const port = o.a;
    const localPort = o.c;
    const core = this.core;
    if (family === 0) {
      const handle = this.#adopt(h, new uv!.Pipe(uv!.PIPE_SOCKET));
      const req = new uv!.PipeConnectWrap();
      req.oncomplete = (status: number) => this.#connected(handle, h, status);
      req.address = address;
      const err = handle.connect(req, address);
      if (err) this.#connectFailedAtOnce(handle, h, err);
      return;
    }
    const handle = this.#adopt(h, new uv!.TCP(uv!.TCP_SOCKET));
    if (localAddress || localPort) {
      const local = localAddress || (family === 4 ? '0.0.0.0' : '::');
      let err = family === 4 ? handle.bind!(local, localPort) : handle.bind6!(local, localPort, 0);
      if (err === 0 && localPort > 0) {
        // EADDRINUSE may show only as a bind to another port (as net.js checks it).
        const out: Addr = {};
        err = handle.getsockname!(out);
        if (err === 0 && out.port !== localPort) err = uv!.UV_EADDRINUSE;
      }
      if (err) {
        core.onConnect(h, errnoOf(err), SYSCALL.bind, 0, 0, 0, 0, '', '');
        return;
      }
      core.onBound(h);
      if (this.#live(h) !== handle) return; // given up on in the meantime
    }
    const req = new uv!.TCPConnectWrap();
    req.oncomplete = (status: number) => this.#connected(handle, h, status, family);
    const err = family === 4 ? handle.connect(req, address, port) : handle.connect6!(req, address, port);
    if (err) this.#connectFailedAtOnce(handle, h, err);
  }

  // A failed attempt keeps its handle until the core's CLOSE (or the next attempt's CONNECT)
  // closes it: its 'close' comes from libuv's close phase, after the error, as in Node.

  /** The connect call itself failed: Node names the socket's local address in its message. */
  #connectFailedAtOnce(handle: UvStream, h: number, err: number): void {
    const out: Addr = {};
    let local = '';
    if (handle.getsockname && handle.getsockname(out) === 0 && out.address !== undefined) local = `${out.address}:${out.port}`;
    this.core.onConnect(h, errnoOf(err), SYSCALL.connect | CONNECT_AT_ONCE, 0, 0, 0, 0, local, '');
  }

  /** A connect attempt ended; `family`: a TCP connection's (4 or 6), 0 for a pipe. */
  #connected(handle: UvStream, h: number, status: number, family = 0): void {
    if (this.#live(h) !== handle) return; // abandoned, or closed while connecting
    if (status !== 0) {
      this.core.onConnect(h, errnoOf(status), SYSCALL.connect, 0, 0, 0, 0, '', '');
      return;
    }
    if (family !== 0) {
      // A TCP connection's names only when the application asks for them (localName,
      // peerName), as node:net asks getsockname and getpeername only then: two system calls
      // fewer per connection, and a peer's name first read after the peer reset is none, as
      // getpeername answers then.
      this.core.onConnect(h, 0, 0, CREDIT, 0, 0, family, '', '');
      return;
    }
    const names = addressesOf(handle);
    this.core.onConnect(h, 0, 0, CREDIT, names.local.port ?? 0, names.remote.port ?? 0, names.family, names.local.address ?? '', names.remote.address ?? '');
  }

  #open(h: number, fd: number): void {
    // node:net validates the descriptor and picks the handle type (ERR_INVALID_FD_TYPE for
    // anything but a socket or pipe, thrown to the caller as in Node); wasinet takes the handle.
    const raw = new net.Socket({ fd, allowHalfOpen: true, pauseOnCreate: true } as net.SocketConstructorOpts);
    const handle = (raw as unknown as { _handle: UvStream })._handle;
    (raw as unknown as { _handle: null })._handle = null;
    this.#adopt(h, handle);
    const { family, local, remote } = addressesOf(handle);
    this.core.onConnect(h, 0, 0, CREDIT, local.port ?? 0, remote.port ?? 0, family, local.address ?? '', remote.address ?? '');
  }

  /** new Socket({ handle }) with a libuv stream handle: wasinet's transport from now on. */
  #openHandle(h: number, handle: UvStream): void {
    this.#adopt(h, handle);
    const { family, local, remote } = addressesOf(handle);
    this.core.onConnect(h, 0, 0, CREDIT, local.port ?? 0, remote.port ?? 0, family, local.address ?? '', remote.address ?? '');
  }

  #write(h: number, data: Buffer): void {
    const handle = this.#live(h);
    if (handle === null) return;
    const core = this.core;
    const n = data.length;
    // A write the kernel takes at once never touches its request object again (libuv's
    // try-write), so one request serves every such write; an async write keeps its request
    // until oncomplete, and the next write gets a fresh one.
    const req = this.#spareReq ?? new uv!.WriteWrap();
    this.#spareReq = null;
    req.handle = handle;
    req.async = false;
    req.bytes = 0;
    req.buffer = null;
    const late = this.#late.size > 0 && this.#late.delete(h) && handle.writev !== undefined;
    // A long writev's second call (lateWrite): IOV_MAX empty buffers first, which libuv's
    // try-write takes (nothing), so that the bytes go through uv_write, as the rest of a writev
    // past IOV_MAX buffers does on node:net.
    const err = late ? handle.writev!(req, [...EMPTY_CALL, data], true) : handle.writeBuffer(req, data);
    if (err !== 0) {
      this.#spareReq = req;
      core.onError(h, errnoOf(err), SYSCALL.write);
    } else if (!uv!.streamBaseState[uv!.kLastWriteWasAsync]) {
      this.#spareReq = req;
      core.release(data); // the kernel took it all: confirmed now, as libuv's try-write
      core.onWritten(h, n, creditLeft(this.#pending.get(h) ?? 0));
    } else {
      req.buffer = data; // libuv holds it (and writes it as the socket drains) until oncomplete
      const pending = this.#pending;
      req.oncomplete = (status: number) => {
        if (hOf(handle) !== h) return; // closed meanwhile
        const left = pending.get(h)! - n;
        if (left > 0) pending.set(h, left); else pending.delete(h);
        core.release(data);
        if (status < 0) core.onError(h, errnoOf(status), SYSCALL.write);
        else core.onWritten(h, n, creditLeft(left));
      };
      const held = (pending.get(h) ?? 0) + n;
      pending.set(h, held);
      core.onWritten(h, 0, creditLeft(held));
    }
  }

  /** Handles whose next WRITE is a long writev's second call (lateWrite). */
  #late = new Set<number>();

  lateWrite(h: number): void {
    if (this.tls === null || !this.tls.owns(h)) this.#late.add(h); // a TLS session's writes are not libuv's
  }

  #shutdown(h: number): void {
    const handle = this.#live(h);
    if (handle === null) return;
    const req = new uv!.ShutdownWrap();
    req.handle = handle;
    req.oncomplete = (status: number) => {
      if (hOf(handle) === h) this.core.onShutdown(h, status < 0 ? errnoOf(status) : 0);
    };
    const err = handle.shutdown(req);
    // 1: completed at once; ENOTCONN: nothing left to shut down (net.js treats both as done).
    if (err === 1) this.core.onShutdown(h, 0);
    else if (err < 0) this.core.onShutdown(h, errnoOf(err) === ERRNO.ENOTCONN ? 0 : errnoOf(err));
  }

  /** A handle that never opened a socket, closed: its callback comes from libuv's close phase. */
  closePhase(fn: () => void): void {
    new uv!.TCP(uv!.TCP_SOCKET).close(fn);
  }

  /**
   * A Unix socket's connect to a path that cannot exist fails at once, and libuv reports that
   * as it reports a finished write: from its pending callbacks (uv__io_feed).
   */
  pendingPhase(fn: () => void): void {
    const handle = new uv!.Pipe(uv!.PIPE_SOCKET);
    const req = new uv!.PipeConnectWrap();
    req.oncomplete = () => {
      handle.close();
      fn();
    };
    const err = handle.connect(req, NO_SUCH_SOCKET);
    if (err) { // not as on Linux and macOS: no later callback comes
      handle.close();
      setImmediate(fn);
    }
  }

  #close(h: number, reset: boolean): void {
    const handle = this.#conns.get(h);
    if (handle === undefined) {
      this.closePhase(() => this.core.onClosed(h)); // nothing was opened: closed already (in the close phase, as libuv's)
      return;
    }
    if (hOf(handle) !== h) return; // closing already
    handle[kH!] = 0;
    this.#pending.delete(h);
    this.#late.delete(h);
    const done = () => {
      if (this.#conns.get(h) === handle) this.#conns.delete(h);
      this.core.onClosed(h);
    };
    if (reset && handle.reset) {
      const err = handle.reset(done);
      if (err === 0) return;
      // Refused (EINVAL: a shutdown is under way). Node's handle then counts as closing and
      // never closes (its close() does nothing): the same here, and the core hears why.
      this.core.onError(h, errnoOf(err), SYSCALL.reset);
      return;
    }
    handle.close(done);
  }
}

/** The node backend this process can have: on libuv's handles, or on public APIs (loaded only then). */
export function createNodeBackend(): NodeBackendBase {
  return uv ? new NodeBackend() : new (lazy('./backend/node-public.js').PublicNodeBackend)();
}
