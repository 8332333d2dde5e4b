// The AssemblyScript SDK for wasinet guests (docs/guest.md): Socket and Server classes with
// callbacks, timers, a clock and a log, over the `wasinet_guest` imports. A plugin reads like a
// small Node program:
//
//   export * from "./node_modules/wasinet/guest/exports";   // the callbacks the host calls (required)
//   import { createServer, Socket, Server } from "./node_modules/wasinet/guest/wasinet";
//   const server = createServer("127.0.0.1", 8080);
//   server.onConnection = (server: Server, s: Socket): void => {
//     s.onData = (s: Socket, data: Uint8Array): void => { if (!s.write(data)) s.pause(); };
//     s.onDrain = (s: Socket): void => { s.resume(); };
//   };
//
// AssemblyScript closures cannot capture locals, so every callback gets its object as its first
// argument; keep per-connection state in a Map keyed by `handle` or in the `tag` field.
// Socket.write buffers what the host did not take (like Node's Writable) and reports false
// when it did: wait for onDrain before writing more, as in Node.

// ---- the imports (docs/guest.md, "Imports") ----
@external("wasinet_guest", "socket_open") declare function socket_open(flags: i32): i32;
@external("wasinet_guest", "socket_connect") declare function socket_connect(h: i32, host: usize, len: i32, port: i32): i32;
@external("wasinet_guest", "socket_connect_ipc") declare function socket_connect_ipc(h: i32, path: usize, len: i32): i32;
@external("wasinet_guest", "server_listen") declare function server_listen(host: usize, len: i32, port: i32, flags: i32): i32;
@external("wasinet_guest", "server_listen_ipc") declare function server_listen_ipc(path: usize, len: i32, flags: i32): i32;
@external("wasinet_guest", "server_close") declare function server_close(h: i32): void;
@external("wasinet_guest", "socket_write") declare function socket_write(h: i32, ptr: usize, len: i32): i32;
@external("wasinet_guest", "socket_end") declare function socket_end(h: i32): void;
@external("wasinet_guest", "socket_destroy") declare function socket_destroy(h: i32): void;
@external("wasinet_guest", "socket_pause") declare function socket_pause(h: i32): void;
@external("wasinet_guest", "socket_resume") declare function socket_resume(h: i32): void;
@external("wasinet_guest", "socket_set_timeout") declare function socket_set_timeout(h: i32, ms: f64): i32;
@external("wasinet_guest", "socket_set_no_delay") declare function socket_set_no_delay(h: i32, on: i32): void;
@external("wasinet_guest", "address") declare function host_address(h: i32, which: i32, ptr: usize, cap: i32): i32;
@external("wasinet_guest", "timer_set") declare function timer_set(ms: f64): i32;
@external("wasinet_guest", "timer_clear") declare function timer_clear(id: i32): void;
@external("wasinet_guest", "now") declare function host_now(): f64;
@external("wasinet_guest", "log") declare function host_log(ptr: usize, len: i32): void;
@external("wasinet_guest", "exit") declare function host_exit(code: i32): void;

/** Flags of socket_open and server_listen. */
export const ALLOW_HALF_OPEN: i32 = 1;
export const PAUSE_ON_CONNECT: i32 = 2;

/** Error numbers (docs/guest.md, "Errors"): the index in ERRNO_NAMES. */
export const EACCES: i32 = 2;
export const EADDRINUSE: i32 = 3;
export const ECONNREFUSED: i32 = 12;
export const ECONNRESET: i32 = 13;
export const EINVAL: i32 = 15;
export const EISCONN: i32 = 16;
export const EMFILE: i32 = 17;
export const ENOTCONN: i32 = 24;
export const EPIPE: i32 = 28;
export const ETIMEDOUT: i32 = 30;
export const ERRNO_NAMES: string[] = ["OK", "UNKNOWN", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL", "EAFNOSUPPORT", "EAGAIN", "EALREADY", "EBADF", "EBUSY", "ECANCELED", "ECONNABORTED", "ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "EINVAL", "EISCONN", "EMFILE", "ENAMETOOLONG", "ENETDOWN", "ENETUNREACH", "ENOBUFS", "ENOENT", "ENOMEM", "ENOTCONN", "ENOTSOCK", "ENOTSUP", "EPERM", "EPIPE", "EPROTO", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NODATA", "EAI_ADDRFAMILY", "ENOTDIR", "EISDIR", "EEXIST", "EIO", "EINTR", "ENOSYS", "ENOSPC", "ENXIO", "EDQUOT"];
export const SYSCALL_NAMES: string[] = ["none", "connect", "read", "write", "shutdown", "listen", "accept", "getaddrinfo", "bind", "close", "reset"];

/** An error the host reported: Node's code and syscall, as numbers. */
export class SocketError {
  constructor(public errno: i32, public syscall: i32) {}
  get code(): string { return this.errno >= 0 && this.errno < ERRNO_NAMES.length ? ERRNO_NAMES[this.errno] : "UNKNOWN"; }
  get syscallName(): string { return this.syscall >= 0 && this.syscall < SYSCALL_NAMES.length ? SYSCALL_NAMES[this.syscall] : "none"; }
  toString(): string { return this.syscallName + " " + this.code; }
}

function utf8(s: string): ArrayBuffer { return String.UTF8.encode(s); }

function hostAddress(h: i32, which: i32): string {
  const buf = new ArrayBuffer(128);
  const n = host_address(h, which, changetype<usize>(buf), 128);
  if (n < 0) return "";
  if (n > 128) {
    const big = new ArrayBuffer(n);
    host_address(h, which, changetype<usize>(big), n);
    return String.UTF8.decode(big);
  }
  return String.UTF8.decode(buf.slice(0, n));
}

/** A TCP or IPC connection: one handle of the host's stack. */
export class Socket {
  onConnect: ((s: Socket) => void) | null = null;
  onData: ((s: Socket, data: Uint8Array) => void) | null = null;
  onEnd: ((s: Socket) => void) | null = null;
  onDrain: ((s: Socket) => void) | null = null;
  onTimeout: ((s: Socket) => void) | null = null;
  onError: ((s: Socket, err: SocketError) => void) | null = null;
  onClose: ((s: Socket, hadError: bool) => void) | null = null;
  /** Free for the plugin's own use. */
  tag: i32 = 0;
  closed: bool = false;
  private queue: Uint8Array[] = [];
  private ending: bool = false;
  private needDrain: bool = false;

  constructor(public handle: i32) {}

  /** Sends `data`; false when some of it waits in this socket: wait for onDrain. */
  write(data: Uint8Array): bool {
    if (this.closed || this.ending) return false;
    if (this.queue.length > 0) {
      this.queue.push(data.slice());
      this.needDrain = true;
      return false;
    }
    const n = socket_write(this.handle, data.dataStart, data.length);
    if (n < 0) return false;
    if (n < data.length) {
      this.queue.push(data.slice(n));
      this.needDrain = true;
      return false;
    }
    return true;
  }

  writeString(s: string): bool { return this.write(Uint8Array.wrap(utf8(s))); }

  /** Half-closes after everything written so far has been taken. */
  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (this.queue.length === 0) socket_end(this.handle);
  }

  destroy(): void { if (!this.closed) socket_destroy(this.handle); }
  pause(): void { if (!this.closed) socket_pause(this.handle); }
  resume(): void { if (!this.closed) socket_resume(this.handle); }
  /** Idle timeout in ms (0 turns it off); onTimeout fires, the socket stays open. */
  setTimeout(ms: f64): void { if (!this.closed) socket_set_timeout(this.handle, ms); }
  setNoDelay(on: bool = true): void { if (!this.closed) socket_set_no_delay(this.handle, on ? 1 : 0); }
  get remoteAddress(): string { return hostAddress(this.handle, 1); }
  get localAddress(): string { return hostAddress(this.handle, 0); }
  /** Bytes this socket holds that the host has not taken yet. */
  get pendingBytes(): i32 {
    let n = 0;
    for (let i = 0; i < this.queue.length; i++) n += this.queue[i].length;
    return n;
  }

  /** @internal the host took some bytes: hand it more. */
  flush(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      const n = socket_write(this.handle, head.dataStart, head.length);
      if (n < 0) { this.queue = []; break; }
      if (n < head.length) { this.queue[0] = head.slice(n); return; }
      this.queue.shift();
    }
    if (this.ending) socket_end(this.handle);
    if (this.needDrain) {
      this.needDrain = false;
      const f = this.onDrain;
      if (f) f(this);
    }
  }
}

/** A listening TCP or IPC server. */
export class Server {
  onConnection: ((server: Server, s: Socket) => void) | null = null;
  onListening: ((server: Server) => void) | null = null;
  onError: ((server: Server, err: SocketError) => void) | null = null;
  onClose: ((server: Server) => void) | null = null;
  tag: i32 = 0;
  closed: bool = false;
  constructor(public handle: i32) {}
  /** Stops accepting; onClose once every connection has closed. */
  close(): void { if (!this.closed) server_close(this.handle); }
  /** "HOST:PORT" ("[::1]:80" for IPv6) or the IPC path; "" before listening. */
  get address(): string { return hostAddress(this.handle, 0); }
}

export const sockets = new Map<i32, Socket>();
export const servers = new Map<i32, Server>();

/** Listens on HOST:PORT (port 0: the OS picks, see address). Failure arrives as onError, then onClose. */
export function createServer(host: string, port: i32, flags: i32 = 0): Server {
  const b = utf8(host);
  return newServer(server_listen(changetype<usize>(b), b.byteLength, port, flags));
}

/** Listens on a Unix socket path (or Windows pipe name). */
export function listenIpc(path: string, flags: i32 = 0): Server {
  const b = utf8(path);
  return newServer(server_listen_ipc(changetype<usize>(b), b.byteLength, flags));
}

/** Connects to HOST:PORT; onConnect or onError (then onClose) follows. */
export function connect(host: string, port: i32, flags: i32 = 0): Socket {
  const s = newSocket(socket_open(flags));
  const b = utf8(host);
  failLater(s, socket_connect(s.handle, changetype<usize>(b), b.byteLength, port));
  return s;
}

export function connectIpc(path: string, flags: i32 = 0): Socket {
  const s = newSocket(socket_open(flags));
  const b = utf8(path);
  failLater(s, socket_connect_ipc(s.handle, changetype<usize>(b), b.byteLength));
  return s;
}

function newServer(h: i32): Server {
  // A negative handle is an argument the host rejected (-EINVAL): a server that closes at once.
  const srv = new Server(h);
  if (h > 0) servers.set(h, srv);
  else srv.closed = true;
  return srv;
}

/** @internal */
export function newSocket(h: i32): Socket {
  const s = new Socket(h);
  sockets.set(h, s);
  return s;
}

// A connect the host rejected at once (bad port, bad address) is reported like Node reports
// most errors: later, on the socket, then the socket is destroyed.
const failing = new Map<i32, Socket>();
function failLater(s: Socket, rc: i32): void {
  if (rc >= 0) return;
  s.tag = -rc;
  failing.set(setTimeout(failNow, 0), s);
}
function failNow(): void {
  const ids = failing.keys();
  for (let i = 0; i < ids.length; i++) {
    const s = failing.get(ids[i]);
    failing.delete(ids[i]);
    const f = s.onError;
    if (f) f(s, new SocketError(s.tag, 1));
    s.destroy();
  }
}

export const timers = new Map<i32, () => void>();
/** Calls `fn` after `ms` on the stack's clock (virtual on the sim). */
export function setTimeout(fn: () => void, ms: f64): i32 {
  const id = timer_set(ms);
  timers.set(id, fn);
  return id;
}
export function clearTimeout(id: i32): void {
  if (timers.delete(id)) timer_clear(id);
}

/** The stack's clock in ms. */
export function now(): f64 { return host_now(); }
/** One line to the plugin's log (its stdout). */
export function log(msg: string): void {
  const b = utf8(msg);
  host_log(changetype<usize>(b), b.byteLength);
}
/** Ends the plugin with this status: its sockets and servers are destroyed. */
export function exit(code: i32): void { host_exit(code); }
