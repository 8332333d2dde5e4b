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
import { NodeBackendBase, CREDIT, creditLeft, familyOf, split2, isRoundRobin } from './node-common.js';
import { PublicNodeBackend } from './node-public.js';

// ---------------------------------------------------------------- the bindings

interface Req { oncomplete: Function; handle?: unknown; async?: boolean; bytes?: number; buffer?: unknown; [k: string]: unknown }
interface Addr { address?: string; family?: string; port?: number }

/** What wasinet calls on a libuv stream handle (TCP or Pipe). */
export interface UvStream {
  onread: ((this: UvStream, buf?: ArrayBuffer) => void) | null;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: Req, data: Uint8Array): number;
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
  /** wasinet's: the connection this handle carries. */
  [kConn]?: Conn;
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

const kConn = Symbol('wasinet.conn');

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

class Conn {
  pending = 0;        // bytes libuv holds in writes it has not completed (the credit they use)
  closing = false;    // the core issued CLOSE: report onClosed once the handle is closed
  constructor(readonly h: number, readonly handle: UvStream, readonly backend: NodeBackend) {
    handle[kConn] = this;
  }
}

/** Every handle's `onread`: one function, the connection found on the handle. */
function onread(this: UvStream, buf?: ArrayBuffer): void {
  const c = this[kConn];
  if (c === undefined || c.closing) return;
  const state = uv!.streamBaseState;
  const nread = state[uv!.kReadBytesOrError];
  const core = c.backend.coreOf();
  if (nread > 0) core.onData(c.h, Buffer.from(buf!, state[uv!.kArrayBufferOffset], nread));
  else if (nread === uv!.UV_EOF) core.onEof(c.h);
  else if (nread < 0) core.onError(c.h, errnoOf(nread), SYSCALL.read);
}

function addressesOf(handle: UvStream): { family: number; local: Addr; remote: Addr } {
  const local: Addr = {};
  const remote: Addr = {};
  if (handle.getsockname) handle.getsockname(local);
  if (handle.getpeername) handle.getpeername(remote);
  return { family: familyOf(remote.family ?? local.family), local, remote };
}

export class NodeBackend extends NodeBackendBase {
  readonly transport = 'libuv';
  #conns = new Map<number, Conn>();
  #spareReq: Req | null = null; // see #write

  /** The core, for the shared onread. */
  coreOf() {
    return this.core;
  }

  protected connHandle(h: number): object | null {
    return this.#conns.get(h)?.handle ?? null;
  }

  protected connFd(h: number): number {
    const fd = this.#conns.get(h)?.handle.fd;
    return typeof fd === 'number' ? fd : -1;
  }

  protected dropConns(): void {
    for (const c of this.#conns.values()) {
      c.closing = true;
      c.handle.close();
    }
    this.#conns.clear();
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
    server._handle.onconnection = (err: number, client: UvStream) => {
      if (err) {
        this.core.onError(h, errnoOf(err), SYSCALL.accept);
        return;
      }
      const { family, local, remote } = addressesOf(client);
      this.core.onConnection(h, CREDIT, family, local.port ?? 0, remote.port ?? 0,
        local.address ?? '', remote.address ?? '', (sh) => this.#adopt(sh, client));
    };
  }

  #adopt(h: number, handle: UvStream): Conn {
    const c = new Conn(h, handle, this);
    handle.onread = onread;
    this.#conns.set(h, c);
    return c;
  }

  protected execConn(o: Output): void {
    switch (o.op) {
      case Op.CMD_CONNECT: return this.#connect(o);
      case Op.CMD_OPEN: return o.b === 1 ? this.#openHandle(o.h, this.takeAdopted(o.a) as UvStream) : this.#open(o.h, o.a);
      case Op.CMD_READ_START: {
        const c = this.#conns.get(o.h);
        if (!c || c.closing) return;
        const err = c.handle.readStart();
        // EALREADY: an adopted handle (new Socket({ handle })) that was reading already.
        if (err && errnoOf(err) !== ERRNO.EALREADY) this.core.onError(o.h, errnoOf(err), SYSCALL.read);
        return;
      }
      case Op.CMD_READ_STOP: {
        const c = this.#conns.get(o.h);
        if (c && !c.closing) c.handle.readStop();
        return;
      }
      case Op.CMD_WRITE: return this.#write(o.h, o.data!);
      case Op.CMD_SHUTDOWN: return this.#shutdown(o.h);
      case Op.CMD_CLOSE: return this.#close(o.h, o.a === 1);
      case Op.CMD_SET_OPTION: {
        const c = this.#conns.get(o.h);
        if (!c || c.closing) return;
        if (o.a === Opt.NoDelay) c.handle.setNoDelay?.(o.b !== 0);
        else if (o.a === Opt.KeepAlive) c.handle.setKeepAlive?.(o.b !== 0, Math.floor(o.c / 1000));
        return;
      }
      case Op.CMD_REF: {
        const c = this.#conns.get(o.h);
        if (c && !c.closing) { if (o.a) c.handle.ref(); else c.handle.unref(); }
        return;
      }
    }
  }

  #connect(o: Output): void {
    const h = o.h;
    const old = this.#conns.get(h);
    if (old) {
      // A new attempt replaces an abandoned one (autoSelectFamily): drop it without a word.
      old.closing = true;
      old.handle.close();
      this.#conns.delete(h);
    }
    const [address, localAddress] = split2(o.data);
    const family = o.b;
    const port = o.a;
    const localPort = o.c;
    const core = this.core;
    if (family === 0) {
      const handle = new uv!.Pipe(uv!.PIPE_SOCKET);
      const c = this.#adopt(h, handle);
      const req = new uv!.PipeConnectWrap();
      req.oncomplete = (status: number) => this.#connected(c, status);
      req.address = address;
      const err = handle.connect(req, address);
      if (err) this.#connectFailedAtOnce(c, err);
      return;
    }
    const handle = new uv!.TCP(uv!.TCP_SOCKET);
    const c = this.#adopt(h, handle);
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
      if (this.#conns.get(h) !== c) return; // given up on in the meantime
    }
    const req = new uv!.TCPConnectWrap();
    req.oncomplete = (status: number) => this.#connected(c, status);
    const err = family === 4 ? handle.connect(req, address, port) : handle.connect6!(req, address, port);
    if (err) this.#connectFailedAtOnce(c, err);
  }

  // A failed attempt keeps its handle until the core's CLOSE (or the next attempt's CONNECT)
  // closes it: its 'close' comes from libuv's close phase, after the error, as in Node.

  /** The connect call itself failed: Node names the socket's local address in its message. */
  #connectFailedAtOnce(c: Conn, err: number): void {
    const out: Addr = {};
    let local = '';
    if (c.handle.getsockname && c.handle.getsockname(out) === 0 && out.address !== undefined) local = `${out.address}:${out.port}`;
    this.core.onConnect(c.h, errnoOf(err), SYSCALL.connect | CONNECT_AT_ONCE, 0, 0, 0, 0, local, '');
  }

  #connected(c: Conn, status: number): void {
    if (c.closing || this.#conns.get(c.h) !== c) return; // abandoned, or closed while connecting
    if (status !== 0) {
      this.core.onConnect(c.h, errnoOf(status), SYSCALL.connect, 0, 0, 0, 0, '', '');
      return;
    }
    const { family, local, remote } = addressesOf(c.handle);
    this.core.onConnect(c.h, 0, 0, CREDIT, local.port ?? 0, remote.port ?? 0, family, local.address ?? '', remote.address ?? '');
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
    const c = this.#conns.get(h);
    if (!c || c.closing) return;
    const core = this.core;
    const n = data.length;
    // A write the kernel takes at once never touches its request object again (libuv's
    // try-write), so one request serves every such write; an async write keeps its request
    // until oncomplete, and the next write gets a fresh one.
    const req = this.#spareReq ?? new uv!.WriteWrap();
    this.#spareReq = null;
    req.handle = c.handle;
    req.async = false;
    req.bytes = 0;
    req.buffer = null;
    const err = c.handle.writeBuffer(req, data);
    if (err !== 0) {
      this.#spareReq = req;
      core.onError(h, errnoOf(err), SYSCALL.write);
    } else if (!uv!.streamBaseState[uv!.kLastWriteWasAsync]) {
      this.#spareReq = req;
      core.release(data); // the kernel took it all: confirmed now, as libuv's try-write
      core.onWritten(h, n, creditLeft(c.pending));
    } else {
      req.buffer = data; // libuv holds it (and writes it as the socket drains) until oncomplete
      req.oncomplete = (status: number) => {
        if (c.closing) return;
        c.pending -= n;
        core.release(data);
        if (status < 0) core.onError(h, errnoOf(status), SYSCALL.write);
        else core.onWritten(h, n, creditLeft(c.pending));
      };
      c.pending += n;
      core.onWritten(h, 0, creditLeft(c.pending));
    }
  }

  #shutdown(h: number): void {
    const c = this.#conns.get(h);
    if (!c || c.closing) return;
    const req = new uv!.ShutdownWrap();
    req.handle = c.handle;
    req.oncomplete = (status: number) => {
      if (!c.closing) this.core.onShutdown(h, status < 0 ? errnoOf(status) : 0);
    };
    const err = c.handle.shutdown(req);
    // 1: completed at once; ENOTCONN: nothing left to shut down (net.js treats both as done).
    if (err === 1) this.core.onShutdown(h, 0);
    else if (err < 0) this.core.onShutdown(h, errnoOf(err) === ERRNO.ENOTCONN ? 0 : errnoOf(err));
  }

  #close(h: number, reset: boolean): void {
    const c = this.#conns.get(h);
    if (!c) {
      setImmediate(() => this.core.onClosed(h)); // nothing was opened: closed already (in the close phase, as libuv's)
      return;
    }
    if (c.closing) return;
    c.closing = true;
    const done = () => {
      if (this.#conns.get(h) === c) this.#conns.delete(h);
      this.core.onClosed(h);
    };
    if (reset && c.handle.reset) {
      const err = c.handle.reset(done);
      if (err === 0) return;
    }
    c.handle.close(done);
  }
}

/** The node backend this process can have: on libuv's handles, or on public APIs. */
export function createNodeBackend(): NodeBackendBase {
  return uv ? new NodeBackend() : new PublicNodeBackend();
}
