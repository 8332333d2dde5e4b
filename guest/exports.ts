// The exports every AssemblyScript guest must have (docs/guest.md, "Exports"): the host calls
// them, they dispatch to the Socket and Server objects of guest/wasinet.ts. A plugin's entry
// file re-exports them: `export * from "<path>/guest/exports";`.
import { Socket, Server, SocketError, sockets, servers, timers, newSocket } from "./wasinet";

// The buffer handed out by wasinet_alloc for the data that follows: a global keeps it alive
// (and reachable for the collector) until wasinet_on_data takes it.
let incoming: Uint8Array | null = null;

export function wasinet_alloc(size: i32): usize {
  const buf = new Uint8Array(size);
  incoming = buf;
  return buf.dataStart;
}

export function wasinet_on_data(h: i32, ptr: usize, len: i32): void {
  const buf = incoming;
  incoming = null;
  if (!buf || buf.dataStart != ptr || buf.length != len) unreachable();
  const s = sockets.get(h);
  const f = s.onData;
  if (f) f(s, buf!);
}

export function wasinet_on_connect(h: i32): void {
  const s = sockets.get(h);
  const f = s.onConnect;
  if (f) f(s);
}

export function wasinet_on_accept(server: i32, h: i32): void {
  const srv = servers.get(server);
  const s = newSocket(h);
  const f = srv.onConnection;
  if (f) f(srv, s);
  else s.destroy();
}

export function wasinet_on_listening(h: i32): void {
  const srv = servers.get(h);
  const f = srv.onListening;
  if (f) f(srv);
}

export function wasinet_on_end(h: i32): void {
  const s = sockets.get(h);
  const f = s.onEnd;
  if (f) f(s);
}

export function wasinet_on_drain(h: i32): void {
  sockets.get(h).flush();
}

export function wasinet_on_timeout(h: i32): void {
  const s = sockets.get(h);
  const f = s.onTimeout;
  if (f) f(s);
}

export function wasinet_on_error(h: i32, errno: i32, syscall: i32): void {
  const err = new SocketError(errno, syscall);
  if (sockets.has(h)) {
    const s = sockets.get(h);
    const f = s.onError;
    if (f) f(s, err);
  } else if (servers.has(h)) {
    const srv = servers.get(h);
    const f = srv.onError;
    if (f) f(srv, err);
  }
}

export function wasinet_on_close(h: i32, hadError: i32): void {
  if (sockets.has(h)) {
    const s = sockets.get(h);
    sockets.delete(h);
    s.closed = true;
    const f = s.onClose;
    if (f) f(s, hadError != 0);
  } else if (servers.has(h)) {
    const srv = servers.get(h);
    servers.delete(h);
    srv.closed = true;
    const f = srv.onClose;
    if (f) f(srv);
  }
}

export function wasinet_on_timer(id: i32): void {
  if (!timers.has(id)) return;
  const fn = timers.get(id);
  timers.delete(id);
  fn();
}
