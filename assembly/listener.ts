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
import * as policy from "./policy";
import * as limits from "./limits";
import { takeScratch } from "./emit";

/**
 * The sandbox's word on a listen, before the transport hears of it: 0, or the errno of the OS
 * refusing it (EINVAL: no descriptor; EACCES: no rule allows it; EMFILE: the stack's
 * `listeners` are all in use).
 * Port 0 needs a rule allowing every port of the address; onListening checks the port picked.
 */
function mayListen(port: i32, flags: i32, len: u32): i32 {
  // A descriptor that is none (host/net passes -1 for one that is not an integer or beyond
  // int32) is Node's EINVAL from listen, whatever the transport and the policy.
  if ((flags & abi.LISTEN_FD) != 0 && port < 0) return abi.EINVAL;
  if ((flags & (abi.LISTEN_FD | abi.LISTEN_HANDLE)) != 0) {
    if (!policy.allowFd()) return abi.EACCES;
  } else if ((flags & abi.LISTEN_IPC) != 0) {
    if (!policy.allowPath(takeScratch(0, len))) return abi.EACCES;
  } else if (policy.enforced()) {
    let any = port == 0;
    let ok = false;
    if (len == 0) {
      // No address: the transport binds '::' (or '0.0.0.0' without IPv6); either rule will do.
      ok = policy.allowHost(policy.LIST_LISTEN, String.UTF8.encode("::"), port, any) ||
        policy.allowHost(policy.LIST_LISTEN, String.UTF8.encode("0.0.0.0"), port, any);
    } else {
      ok = policy.allowHost(policy.LIST_LISTEN, takeScratch(0, len), port, any);
    }
    if (!ok) return abi.EACCES;
  }
  return 0;
}

/** listen(): scratch holds the address or path (len bytes). Returns the listener handle. */
export function apiListen(port: i32, backlog: i32, flags: i32, len: u32, prev: u32, maxConnections: f64): u32 {
  let l = newListener();
  l.maxConnections = maxConnections;
  let denied = mayListen(port, flags, len);
  if (denied == abi.EACCES) policy.refused();
  if (denied == 0 && !limits.listenerOpened()) denied = abi.EMFILE;
  if (denied != 0) {
    // Refused as the OS refuses a bind: LISTEN_ERROR, and no LISTEN for the transport.
    l.setState(LState.Failed);
    listeners.delete(l.id);
    emit(abi.EV_LISTEN_ERROR, l.id, denied, abi.SYS_LISTEN, port, scratch, len);
    return l.id;
  }
  l.counted = true;
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
    uncount(l);
    listeners.delete(l.id);
    emit(abi.EV_LISTEN_ERROR, l.id, status, op, 0, scratch, len); // the address it failed on, if known
    return 0;
  }
  if (family != 0 && policy.enforced() && !policy.allowHost(policy.LIST_LISTEN, takeScratch(0, len), port)) {
    // The address or port the transport picked (port 0, a host name) is not allowed: close the
    // listener before anyone connects, and fail the listen as the OS would.
    policy.refused();
    l.setState(LState.Failed);
    uncount(l);
    listeners.delete(l.id);
    emit(abi.CMD_CLOSE, l.id, 0);
    emit(abi.EV_LISTEN_ERROR, l.id, abi.EACCES, abi.SYS_LISTEN, port, scratch, len);
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
  if (!limits.socketOpened()) {
    // The stack has `sockets` open: close this one at once (counted), the server stays up.
    limits.droppedOne();
    s.setState(State.Closing);
    emit(abi.CMD_CLOSE, s.id, 0);
    return s.id;
  }
  s.counted = true;
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
      uncount(l);
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

/** The listener no longer counts against the stack's `listeners` limit. */
function uncount(l: Listener): void {
  if (l.counted) { l.counted = false; limits.listenerClosed(); }
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
