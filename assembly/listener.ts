// The listener state machine: listen, accept, maxConnections, close-when-drained.
//
// A listener handle lives for one listen() .. close() cycle. It counts the sockets it accepted
// until each is destroyed (Node's server._connections), refuses connections beyond
// maxConnections (DROP), and once closed reports SERVER_DRAINED when the count reaches zero,
// which is when Node emits the server's 'close'. A server that listens again while old
// connections are still open passes its old handle (`prev`) so the count carries over.
import * as abi from "./abi";
import { State, LState } from "./abi";
import { emit, scratch } from "./emit";
import { Listener } from "./sock";
import { listeners, listener, newListener, newSock, sockets } from "./table";

/** listen(): scratch holds the address or path (len bytes). Returns the listener handle. */
export function apiListen(port: i32, backlog: i32, flags: i32, len: u32, prev: u32, maxConnections: f64): u32 {
  let l = newListener();
  l.maxConnections = maxConnections;
  let old = listener(prev);
  if (old !== null && old.state == LState.Closed) {
    // The previous cycle's sockets now count against this one, as on Node's Server object.
    l.count = old.count;
    old.count = 0;
    let keys = sockets.keys();
    for (let i = 0; i < keys.length; i++) {
      let s = sockets.get(keys[i]);
      if (s.server == prev) s.server = l.id;
    }
    listeners.delete(prev);
  }
  emit(abi.CMD_LISTEN, l.id, port, backlog, flags, scratch, len);
  return l.id;
}

/** The outcome of LISTEN; on success scratch holds the bound address or path (len bytes). */
export function onListening(l: Listener, status: i32, op: i32, port: i32, family: i32, len: u32): i32 {
  switch (l.state) {
    case LState.Binding: break;
    default: return abi.EINVAL; // closed before it was bound: nothing to report
  }
  if (status != 0) {
    l.setState(LState.Failed); // no 'close' follows a failed listen
    listeners.delete(l.id);
    emit(abi.EV_LISTEN_ERROR, l.id, status, op, 0, scratch, len); // the address it failed on, if known
    return 0;
  }
  l.setState(LState.Listening);
  if (!l.refed) emit(abi.CMD_REF, l.id, 0);
  emit(abi.EV_LISTENING, l.id, port, family, 0, scratch, len);
  return 0;
}

/**
 * A connection arrived; scratch holds `localAddress NUL remoteAddress` (len bytes), `ports` is
 * localPort | remotePort << 16. Returns the new socket's handle: the transport files the
 * connection under it. The socket may be closed at once (DROP, or the listener is closing).
 */
export function onConnection(l: Listener, credit: f64, family: i32, ports: f64, len: u32): u32 {
  let s = newSock();
  s.setState(State.Open); // accepted connections start established
  s.credit = credit;
  if (l.state != LState.Listening) {
    s.setState(State.Closing); // raced with close(): refuse quietly
    emit(abi.CMD_CLOSE, s.id, 0);
    return s.id;
  }
  // Node's test: `maxConnections && connections >= maxConnections` (so -1 refuses everything
  // and 1.5 admits two); the host passes 0 for every value JavaScript finds falsy.
  if (l.maxConnections != 0 && <f64>l.count >= l.maxConnections) {
    s.setState(State.Closing); // over maxConnections: close at once and tell the server
    emit(abi.CMD_CLOSE, s.id, 0);
    emit(abi.EV_DROP, l.id, s.id, family, ports, scratch, len);
    return s.id;
  }
  l.count++;
  s.server = l.id;
  s.ipc = family == 0;
  emit(abi.EV_CONNECTION, l.id, s.id, family, ports, scratch, len);
  return s.id;
}

export function apiClose(l: Listener): i32 {
  switch (l.state) {
    case LState.Binding:
    case LState.Listening:
      l.setState(LState.Closed); // stop accepting; open connections stay
      emit(abi.CMD_CLOSE, l.id, 0);
      maybeDrained(l);
      return 0;
    default:
      return abi.EINVAL; // host/net answers ERR_SERVER_NOT_RUNNING
  }
}

/** One of the listener's sockets was destroyed. */
export function connectionGone(h: u32): void {
  let l = listener(h);
  if (l === null) return;
  l.count--;
  maybeDrained(l);
}

function maybeDrained(l: Listener): void {
  if (l.state == LState.Closed && l.count == 0) {
    listeners.delete(l.id);
    emit(abi.EV_SERVER_DRAINED, l.id);
  }
}

export function onError(l: Listener, errno: i32, op: i32): i32 {
  if (l.state != LState.Listening) return abi.EINVAL;
  emit(abi.EV_ERROR, l.id, errno, op);
  return 0;
}

export function apiRef(l: Listener, on: bool): i32 {
  if (l.refed == on) return 0;
  l.refed = on;
  if (l.state == LState.Listening) emit(abi.CMD_REF, l.id, on ? 1 : 0);
  return 0;
}
