// The socket state machine: every transition of a socket, as (state, input) -> state.
//
// Inputs come from two sides: the API (host/net calls api* when user code acts) and the
// transport (the backend reports on* when the network acts). Each handler below switches on the
// current state, and every state change goes through Sock.setState. Outputs are commands to the
// transport and notifications to host/net, emitted in the order they happen.
//
// Write path: the host offers a write request's bytes piece by piece (apiWrite). The core hands
// bytes to the transport as long as it has credit, keeps up to SEND_CAP more in the send queue,
// and refuses the rest (the host keeps them and offers again on WRITABLE). A request completes
// (WRITE_DONE) once the transport has confirmed every byte of it (onWritten), as libuv completes
// a write once the kernel took it. FIN (SHUTDOWN) follows the last confirmed byte.
//
// Read path: the transport reads only while the consumer wants data (apiRead .. apiPause).
// Bytes that arrive when it does not want them wait in the receive buffer; the buffer is
// bounded because READ_STOP is issued as soon as the consumer pauses.
//
// Why this file is over 400 lines: it is the one state machine; each transition is a few lines,
// and reading them side by side is how the machine is checked. Queues, timers, listeners and
// the socket record live in their own files.
import * as abi from "./abi";
import { State } from "./abi";
import { emit, emitBuf, scratch, SCRATCH_SIZE, now, epoch, joinNul, takeScratch, gathering, gatherRun, emitGathered, GATHER_MAX } from "./emit";
import { Sock, Addr, NO_ADDRS } from "./sock";
import { dropSock } from "./table";
import { TIMER_IDLE, TIMER_ATTEMPT } from "./timers";
import { connectionGone } from "./listener";
import * as policy from "./policy";
import * as limits from "./limits";

/** Bytes the send queue holds beyond what the transport took. */
export const SEND_CAP: u32 = 65536;
/** The largest DATA notification: the size of Node's reads, so users see the same chunks. */
const DATA_CHUNK: u32 = 65536;
/** Bytes that may arrive after READ_STOP before the core calls the transport broken. */
export const RECV_CAP: u32 = 1 << 20;
/**
 * Writes up to this size may wait for the end of the turn to leave with others (batching). A
 * batched write costs two copies (into the queue, out to the transport); over a Unix socket, and
 * on transports that gain nothing from larger writes, past 8 KiB those cost more than the system
 * calls they save. A host whose TCP transport does gain asks for more with apiBatching: Node's
 * libuv sockets over loopback TCP do half the kernel's work per byte from 128 KiB writes on
 * (node:net's own sender: 16 KiB writes ~600 CPU ms/GiB, 256 KiB writes ~300), far more than
 * the copies cost (docs/benchmark.md, 16 KiB writes).
 */
const BATCH_MAX: u32 = 8192;
/** The most a socket's batch holds before it leaves at once. */
const BATCH_CAP: u32 = 65536;
/** The largest batch apiBatching may ask for (staging's size). */
export const BATCH_LIMIT: u32 = 262144;
/** TCP sockets' batching (apiBatching); a Unix socket's is always BATCH_MAX / BATCH_CAP. */
let tcpBatchMax: u32 = BATCH_MAX;
let tcpBatchCap: u32 = BATCH_CAP;

/** apiBatching: TCP writes up to `max` bytes are batched, up to `cap` bytes in all. */
export function setTcpBatching(max: u32, cap: u32): void {
  tcpBatchMax = max;
  tcpBatchCap = cap;
}

/** Where queued bytes spanning several slabs are gathered into one WRITE, for a host without
 * FEATURE_GATHER (wasinet's own hosts gather): as large as any batch, so that every host gets
 * the same WRITEs (a trace replays on a host with other features). Made on first use. */
let staging: usize = 0;

// ---------------------------------------------------------------- connecting

/** How apiConnect is told to reach its peer. */
export const TARGET_NAME: i32 = 0; // a host name: RESOLVE first
export const TARGET_IPC: i32 = 1;  // a Unix socket path or Windows pipe name
export const TARGET_IP4: i32 = 4;
export const TARGET_IP6: i32 = 6;

/**
 * Starts connecting an idle socket. Scratch holds `host NUL localAddress` (hostLen, localLen).
 * For a name, `resolveFlags` carries RESOLVE's family (bits 0-3), `all` (bit 4) and the hints
 * (bits 8 and up).
 */
export function apiConnect(s: Sock, target: i32, port: i32, localPort: i32, hostLen: u32, localLen: u32,
  resolveFlags: i32, attemptMs: f64): i32 {
  switch (s.state) {
    case State.Idle: break;
    case State.Resolving:
      // connect() to an address while the name of the first connect() is being looked up: Node
      // connects to the address at once, and the lookup's answer finds the socket no longer
      // waiting for it (onResolved refuses it below).
      if (target == TARGET_NAME || target == TARGET_IPC) return abi.EISCONN;
      break;
    default: return abi.EISCONN; // host/net reuses a socket only after it closed
  }
  let host = takeScratch(0, hostLen);
  s.localAddr = localLen > 0 ? takeScratch(hostLen + 1, localLen) : null;
  s.port = port;
  s.localPort = localPort;
  s.attemptMs = attemptMs;
  refreshIdle(s);
  if (target == TARGET_NAME) {
    if (!policy.allowHost(policy.LIST_CONNECT, host, port)) {
      // No rule allows the name: refused before any lookup, as the OS refuses a connect.
      policy.refused();
      emitBuf(abi.EV_ERROR, s.id, abi.EACCES, abi.SYS_CONNECT, port, joinNul(host, null));
      return 0;
    }
    s.setState(State.Resolving);
    emitBuf(abi.CMD_RESOLVE, s.id, resolveFlags & 15, resolveFlags >> 8, (resolveFlags >> 4) & 1, host);
    return 0;
  }
  // With a policy, the transport gets the normalised path the policy checked (a '..' after a
  // symbolic link would otherwise lead the kernel elsewhere than the check looked).
  if (target == TARGET_IPC && policy.enforced()) host = policy.pathBuffer(host);
  s.addrs = [new Addr(target == TARGET_IPC ? 0 : target, host)];
  s.ipc = target == TARGET_IPC;
  s.multi = false;
  s.attempt = 0;
  startAttempt(s);
  return 0;
}

/**
 * Wraps an existing file descriptor (new net.Socket({ fd })), a handle object (kind 1), or
 * (kind 2) the TLS session of one of this core's connections: the transport reports it with
 * onConnect like a connection that just completed.
 */
export function apiOpen(s: Sock, fd: i32, kind: i32): i32 {
  switch (s.state) {
    case State.Idle: break;
    default: return abi.EISCONN;
  }
  // The host turns these into a synchronous throw, as it does for a descriptor it cannot use.
  // Kind 2 is the TLS session of a connection this core has (`fd` is its handle): no descriptor
  // from outside the sandbox, so the policy's `fd` does not apply.
  if (kind != 2 && !policy.allowFd()) { policy.refused(); return abi.EACCES; }
  if (!limits.socketOpened()) return abi.EMFILE;
  s.counted = true;
  s.addrs = [new Addr(0, new ArrayBuffer(0))];
  s.multi = false;
  s.attempt = 0;
  s.setState(State.Connecting);
  s.wired = true;
  emit(abi.CMD_OPEN, s.id, fd, kind);
  return 0;
}

/**
 * The addresses the lookup gave, valid ones only, in its order. Scratch holds `count` records of
 * [family u8][length u8][address bytes] within `len` bytes. As Node's autoSelectFamily does, each
 * address is tried once, and the families alternate, the first address's family first. One
 * address connects plainly; several are tried in turn with an attempt timer between them.
 * Returns how many addresses will be tried (the host sets up for several), or a negative errno.
 */
export function onResolved(s: Sock, count: u32, len: u32): i32 {
  switch (s.state) {
    case State.Resolving: break;
    default: return -abi.EINVAL; // destroyed while resolving: nothing to do
  }
  if (count == 0) return -abi.EINVAL;
  let first: Addr[] = [];
  let second: Addr[] = [];
  let firstFamily = -1;
  let p: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    if (p + 2 > len) return -abi.EINVAL;
    let family = <i32>load<u8>(scratch + p);
    let n = <u32>load<u8>(scratch + p + 1);
    if (p + 2 + n > len) return -abi.EINVAL;
    let a = new Addr(family, takeScratch(p + 2, n));
    p += 2 + n;
    if (firstFamily < 0) firstFamily = family;
    let group = family == firstFamily ? first : second;
    if (!contains(group, a)) group.push(a);
  }
  let addrs: Addr[] = [];
  let most = max(first.length, second.length);
  for (let i = 0; i < most; i++) {
    if (i < first.length) addrs.push(first[i]);
    if (i < second.length) addrs.push(second[i]);
  }
  s.addrs = addrs;
  s.multi = addrs.length > 1;
  s.attempt = 0;
  refreshIdle(s);
  startAttempt(s);
  return addrs.length;
}

function contains(group: Addr[], a: Addr): bool {
  for (let i = 0; i < group.length; i++) {
    let b = group[i];
    if (b.text.byteLength != a.text.byteLength) continue;
    if (memory.compare(changetype<usize>(b.text), changetype<usize>(a.text), <usize>a.text.byteLength) == 0) return true;
  }
  return false;
}

function startAttempt(s: Sock): void {
  let a = s.addrs[s.attempt];
  s.setState(State.Connecting);
  // With a local address or port the transport binds first; like Node, the attempt is only
  // announced once the bind worked (onBound, or the connection itself).
  s.announced = false;
  // The sandbox: an address no rule allows, or a socket beyond the limit, fails as a connect
  // call the OS refused at once (EACCES, EMFILE) — and the transport never hears of it.
  let denied = 0;
  if (!(a.family == 0 ? policy.allowPath(a.text) : policy.allowHost(policy.LIST_CONNECT, a.text, s.port))) {
    policy.refused();
    denied = abi.EACCES;
  } else if (!s.counted) {
    if (limits.socketOpened()) s.counted = true;
    else denied = abi.EMFILE;
  }
  if (denied != 0) {
    // EACCES in the place of a refused connect (node:net: attempt, attempt failed, error);
    // EMFILE as libuv gives it, from the connect call itself (no 'connectionAttemptFailed' for
    // a single address, as Node reports a connect that failed at once).
    announce(s);
    attemptFailed(s, denied, abi.SYS_CONNECT, denied == abi.EMFILE, null);
    return;
  }
  if (s.localAddr === null && s.localPort == 0) announce(s);
  s.wired = true;
  emitBuf(abi.CMD_CONNECT, s.id, s.port, a.family, s.localPort, joinNul(a.text, s.localAddr));
  if (s.multi && s.attempt < s.addrs.length - 1) {
    s.attemptTimer.arm(now + s.attemptMs, s.id, TIMER_ATTEMPT);
  }
}

function announce(s: Sock): void {
  if (s.announced) return;
  s.announced = true;
  let a = s.addrs[s.attempt];
  emitBuf(abi.EV_CONNECT_ATTEMPT, s.id, s.port, a.family, 0, a.text);
}

/** The transport bound the local address of the current attempt and is now connecting. */
export function onBound(s: Sock): i32 {
  if (s.state != State.Connecting || s.attempt >= s.addrs.length) return abi.EINVAL;
  announce(s);
  return 0;
}

/**
 * The outcome of the last CONNECT. On success scratch holds `localAddress NUL remoteAddress`
 * (len bytes). `op` says which step failed (SYS_CONNECT or SYS_BIND).
 */
export function onConnect(s: Sock, status: i32, op: i32, credit: f64, localPort: i32, remotePort: i32,
  family: i32, len: u32): i32 {
  switch (s.state) {
    case State.Connecting: if (s.attempt < s.addrs.length) break; // else every attempt is over
    default: return abi.EINVAL; // a late outcome of an attempt we gave up on
  }
  if (s._attemptTimer !== null) s.attemptTimer.disarm();
  let a = s.addrs[s.attempt];
  if (status != 0) {
    let atOnce = (op & abi.CONNECT_AT_ONCE) != 0;
    op &= ~abi.CONNECT_AT_ONCE;
    if (op == abi.SYS_BIND && !s.announced && !s.multi) {
      emitBuf(abi.EV_ERROR, s.id, status, op, s.localPort, s.localAddr); // failed before connecting
      return 0;
    }
    announce(s);
    attemptFailed(s, status, op, atOnce, atOnce ? takeScratch(0, len) : null);
    return 0;
  }
  announce(s);
  s.setState(State.Open);
  s.addrs = NO_ADDRS; // connected: the addresses to try are done with
  s.localAddr = null;
  s.credit = credit;
  if (family == 0) s.ipc = true; // an opened fd of a pipe
  if (s.noDelay && !s.ipc) emit(abi.CMD_SET_OPTION, s.id, abi.OPT_NO_DELAY, 1);
  if (s.keepAlive && !s.ipc) emit(abi.CMD_SET_OPTION, s.id, abi.OPT_KEEP_ALIVE, 1, s.keepAliveDelay);
  if (!s.refed) emit(abi.CMD_REF, s.id, 0);
  refreshIdle(s);
  emit(abi.EV_CONNECTED, s.id, localPort, family, remotePort, scratch, len);
  startReading(s);
  pump(s);
  return 0;
}

/**
 * The current attempt failed with `status`. A connect call that failed at once carries the
 * socket's local address (Node names it in the message); Node reports it as a failed attempt
 * only while trying several addresses. The data is always `address NUL local` (local empty
 * otherwise): an abstract socket name starts with NUL, so the host splits at the last NUL.
 */
function attemptFailed(s: Sock, status: i32, op: i32, atOnce: bool, local: ArrayBuffer | null): void {
  let a = s.addrs[s.attempt];
  let text = joinNul(a.text, local);
  if (!atOnce || s.multi) emitBuf(abi.EV_CONNECT_ATTEMPT_FAILED, s.id, s.port, a.family, status, text);
  if (s.multi) {
    nextAttempt(s);
  } else {
    attemptsOver(s);
    emitBuf(abi.EV_ERROR, s.id, status, op, s.port, text);
  }
}

/** The attempt timer of autoSelectFamily fired: give up on this address, try the next. */
export function attemptTimedOut(s: Sock): void {
  if (s.state != State.Connecting || s.attempt >= s.addrs.length) return;
  let a = s.addrs[s.attempt];
  emitBuf(abi.EV_CONNECT_ATTEMPT_TIMEOUT, s.id, s.port, a.family, 0, a.text);
  nextAttempt(s);
}

function nextAttempt(s: Sock): void {
  s.attempt++;
  if (s.attempt < s.addrs.length) startAttempt(s);
  else { attemptsOver(s); emit(abi.EV_ATTEMPTS_FAILED, s.id); }
}

/**
 * No attempt is in flight any more (the last one failed): no late onConnect, onBound or attempt
 * timer may act on it. A socket whose every attempt was refused by the sandbox never had a
 * transport: it goes back to IDLE, so destroying it closes it at once, with no CLOSE.
 */
function attemptsOver(s: Sock): void {
  s.attempt = s.addrs.length;
  if (s._attemptTimer !== null) s.attemptTimer.disarm();
  if (!s.wired) s.setState(State.Idle);
}

// ---------------------------------------------------------------- writing

/**
 * Offers `len` bytes from scratch, part of one write request; `last` marks the piece that ends
 * the request. Returns how many bytes the core took (the host keeps the rest and offers them
 * again after WRITABLE), or a negative errno.
 */
export function apiWrite(s: Sock, len: u32, last: bool): i32 {
  if (!s.maySend()) return -(s.connected() ? abi.EPIPE : abi.ENOTCONN);
  // The stack's `sent` quota: the write that would cross it fails (the host's error says why).
  if (limits.sentTotal + <f64>len > limits.sentQuota) return -abi.EDQUOT;
  refreshIdle(s);
  let batchMax = s.ipc ? BATCH_MAX : tcpBatchMax;
  let batchCap = s.ipc ? BATCH_CAP : tcpBatchCap;
  if (s.inTurn && s.sendSize > 0 && s.sendSize + len > batchCap && len <= batchMax && s.pendingRequests == 0
    && !s.blocked && s.wroteIn != epoch && s.credit >= <f64>(s.sendSize + len)) {
    // This write would overflow the turn's batch: the batch leaves now (this input's one WRITE)
    // and the write starts the next batch, rather than being refused and offered again.
    pump(s);
  }
  let batched = s.sendSize + len;
  // What the send queue may hold: SEND_CAP, less when socketBuffer/stackBuffer say so (a batch
  // may hold more than SEND_CAP: its bytes are the transport's at once).
  let room = s.sendSize + limits.room(s.sendSize + s.recvSize);
  let cap = min(SEND_CAP, room);
  if (s.inTurn && len <= batchMax && s.pendingRequests == 0 && !s.blocked && batched <= batchCap && batched <= room && s.credit >= <f64>batched) {
    // The socket wrote in this turn already: this small write joins a batch that leaves in one
    // WRITE when the host calls apiFlush at the end of the turn (FLUSH_LATER). The transport
    // has the credit for it, so it is complete now, as a write the kernel takes at once.
    s.sendQ.writePayload(0, len, batchCap);
    s.accepted += len;
    limits.takeSent(len);
    if (last) emit(abi.EV_WRITE_DONE, s.id, 0);
    return <i32>len;
  }
  markTurn(s);
  let done: u32 = 0;
  if (s.sendSize == 0 && s.credit >= 1 && s.wroteIn != epoch) {
    // Nothing queued: hand over straight from scratch, as far as the credit goes.
    done = <u32>min<f64>(s.credit, <f64>len);
    if (done > 0) transmit(s, scratch, done);
    // A write of nothing is still a system call on node:net (libuv tries it): one that meets the
    // socket's error (the peer reset, or closed) fails with it. So it is a WRITE of nothing.
    else if (len == 0) transmit(s, scratch, 0);
  }
  if (done < len) done += s.sendQ.writePayload(done, len - done, cap); // the rest is queued
  if (done == 0 && s.sendSize == 0 && s.credit < 1 && s.sent == s.flushed) {
    // Nothing queued, nothing in flight, no credit: no WRITABLE would ever come.
    return -abi.ENOBUFS;
  }
  s.accepted += done;
  limits.takeSent(done);
  if (done < len) {
    s.blocked = true;
    s.blockedSize = s.sendSize;
  } else if (last) {
    s.marks.push(s.accepted);
  }
  pump(s);
  return <i32>done;
}

/** What apiWrite would hand to the transport at once now (the writeRoom query). */
export function writeRoom(s: Sock): f64 {
  if (!s.maySend() || s.blocked || s.sendSize > 0 || s.credit < 1) return 0;
  return s.credit;
}

// ---------------------------------------------------------------- batching

/** Sockets that wrote since the last apiFlush. */
const turn: Sock[] = [];
let flushAsked = false;

/** The socket wrote in this turn: later small writes of the turn are batched (apiWrite). */
function markTurn(s: Sock): void {
  if (s.inTurn) return;
  s.inTurn = true;
  turn.push(s);
  if (!flushAsked) {
    flushAsked = true;
    emit(abi.EV_FLUSH_LATER, 0);
  }
}

/** The end of the turn: every batch leaves, as far as credit goes. */
export function flushTurn(): void {
  flushAsked = false;
  for (let i = 0; i < turn.length; i++) {
    let s = turn[i];
    s.inTurn = false;
    pump(s);
  }
  turn.length = 0;
}

/**
 * Emits a WRITE. At most one per socket per input: a transport may confirm a WRITE at once,
 * inside the host's handling of it, with the credit it has left — and that credit must not
 * count on a second WRITE of the same input that the host has not handed over yet.
 */
function transmit(s: Sock, ptr: usize, n: u32): void {
  emit(abi.CMD_WRITE, s.id, 0, 0, 0, ptr, n);
  sent(s, n);
}

/** A WRITE of `n` bytes went out. */
function sent(s: Sock, n: u32): void {
  s.credit -= n;
  s.sent += n;
  s.wroteIn = epoch;
}

/** The transport confirmed `flushed` more bytes and will now take `credit` bytes. */
export function onWritten(s: Sock, flushed: f64, credit: f64): i32 {
  if (!s.connected()) return abi.EINVAL; // closing: the transport's late news does not matter
  if (flushed > s.sent - s.flushed) return abi.EINVAL; // more than was sent: ignore the lie
  s.flushed += flushed;
  s.credit = credit;
  if (flushed > 0) refreshIdle(s);
  settle(s);
  // Bytes of this turn's batch (all their writes complete) wait for its end, with the writes
  // that join them, as apiFlush sends them; anything else goes as far as the credit allows.
  if (!(s.inTurn && s.pendingRequests == 0 && !s.blocked)) pump(s);
  return 0;
}

/** Hands queued bytes to the transport, as far as its credit goes, in one WRITE. */
function pump(s: Sock): void {
  if (!s.connected()) return;
  if (s.credit >= 1 && s.sendSize > 0 && s.wroteIn != epoch) {
    let n = <u32>min<f64>(s.credit, <f64>s.sendSize);
    if (n <= s.sendQ.peekLen()) {
      transmit(s, s.sendQ.peekPtr(), n); // contiguous: no copy
      s.sendQ.consume(n);
    } else {
      // Spans slabs: a host with FEATURE_GATHER copies the runs into the one buffer it sends;
      // for any other host they are gathered here, into staging.
      let gather = gathering();
      let got: u32 = 0;
      for (let runs: u32 = 0; got < n && runs < GATHER_MAX; runs++) {
        let run = min(s.sendQ.peekRun(got), n - got);
        if (gather) gatherRun(s.sendQ.peekAt(got), run);
        else {
          if (staging == 0) staging = heap.alloc(BATCH_LIMIT);
          memory.copy(staging + got, s.sendQ.peekAt(got), run);
        }
        got += run;
      }
      if (gather) {
        emitGathered(s.id);
        sent(s, got);
      } else {
        transmit(s, staging, got);
      }
      s.sendQ.drop(got);
    }
  }
  // WRITABLE once the queue drained below where it refused — or, when it refused with nothing
  // queued (the memory limit had no slab for it), once the transport takes bytes again.
  if (s.blocked && ((s.sendSize < s.blockedSize && s.sendSize <= SEND_CAP / 2) || (s.sendSize == 0 && s.credit >= 1))) {
    s.blocked = false;
    emit(abi.EV_WRITABLE, s.id);
  }
  settle(s);
}

/** Completes every request whose bytes are all confirmed; sends FIN once nothing is left. */
function settle(s: Sock): void {
  while (s.pendingRequests > 0 && s.marks[0] <= s.flushed) {
    s.marks.shift();
    emit(abi.EV_WRITE_DONE, s.id, 0);
  }
  if (s.ending() && s.sendSize == 0 && s.pendingRequests == 0 && s.sent == s.flushed && !s.blocked) {
    switch (s.state) {
      case State.Ending: s.setState(State.FinWait); break;       // FIN after our last byte
      case State.LastEnding: s.setState(State.LastAck); break;   // the peer ended first
      default: return;
    }
    emit(abi.CMD_SHUTDOWN, s.id);
  }
}

/** end(): FIN once everything before it is confirmed. */
export function apiEnd(s: Sock): i32 {
  switch (s.state) {
    case State.Open: s.setState(State.Ending); break;          // we end first
    case State.ReadEnded: s.setState(State.LastEnding); break; // answering the peer's FIN
    default: return abi.EINVAL;                                // not connected, or ended already
  }
  settle(s);
  return 0;
}

export function onShutdown(s: Sock, status: i32): i32 {
  switch (s.state) {
    case State.FinWait: s.setState(State.WriteEnded); break; // our FIN is out, still reading
    case State.LastAck: s.setState(State.Done); break;       // both directions finished
    default: return abi.EINVAL;
  }
  emit(abi.EV_SHUTDOWN_DONE, s.id, status);
  return 0;
}

// ---------------------------------------------------------------- reading

/**
 * The consumer wants data: deliver what is buffered and keep the transport reading. With
 * `max` > 0 (Node's `onread`: the consumer's buffer holds `max` bytes) one DATA at most, and the
 * consumer asks again (apiRead) for the next: its callback decides after each bufferful whether
 * reading goes on, and what it does not take stays here, in order.
 */
export function apiRead(s: Sock, max: u32): i32 {
  if (s.state >= State.Closing) return abi.EBADF;
  s.wantRead = true;
  s.readMax = max;
  deliver(s);
  startReading(s);
  return 0;
}

/** The consumer is full: stop the transport now, so nothing piles up. */
export function apiPause(s: Sock): i32 {
  s.wantRead = false;
  if (s.reading) {
    s.reading = false;
    emit(abi.CMD_READ_STOP, s.id);
  }
  return 0;
}

function startReading(s: Sock): void {
  // While the queue holds bytes and a limit leaves it little room, wait for it to drain: the
  // transport would only be stopped again at its next read.
  if (s.recvSize > 0 && limits.room(s.sendSize + s.recvSize) < DATA_CHUNK) return;
  if (s.wantRead && !s.reading && s.connected() && s.mayRecv()) {
    s.reading = true;
    emit(abi.CMD_READ_START, s.id);
  }
}

/** `len` bytes from the peer are in scratch. */
export function onData(s: Sock, len: u32): i32 {
  if (!s.connected() || !s.mayRecv()) return abi.EINVAL; // after EOF or close: drop
  if (!limits.takeReceived(len)) {
    // The stack's `received` quota: the socket whose bytes cross it fails; they are not delivered.
    emit(abi.EV_ERROR, s.id, abi.EDQUOT, abi.SYS_READ);
    return abi.EDQUOT;
  }
  // Under onread Node reads into the consumer's buffer, so it counts a byte read when the
  // consumer gets it; the bytes that wait here are counted as they are handed over (deliver).
  if (s.readMax == 0) s.bytesRead += len;
  refreshIdle(s);
  let from: u32 = 0;
  if (s.wantRead && s.recvSize == 0) {
    if (s.readMax == 0) {
      // Pieces of at most 64 KiB, the chunks node:net users get, however much one read brought.
      for (let off: u32 = 0; off < len; off += DATA_CHUNK) {
        emit(abi.EV_DATA, s.id, 0, 0, 0, scratch + off, min(DATA_CHUNK, len - off));
      }
      return 0;
    }
    // onread: one bufferful now; the rest waits for the consumer's next pull.
    from = min(s.readMax, len);
    s.bytesRead += from;
    emit(abi.EV_DATA, s.id, 0, 0, 0, scratch, from);
    if (from == len) return 0;
  }
  // Bounded by RECV_CAP, and by socketBuffer/stackBuffer when the stack has them.
  let kept = s.recvQ.writePayload(from, len - from, min(RECV_CAP, s.recvSize + limits.room(s.sendSize + s.recvSize)));
  if (kept < len - from) {
    if (s.reading) {
      // The transport read while it was allowed to (one read can be larger than the room
      // left, e.g. under onread with a small buffer and a socketBuffer limit): keep what fits,
      // stop it, and leave the rest with it; it offers them again, first, after READ_START.
      s.reading = false;
      emit(abi.CMD_READ_STOP, s.id);
      if (s.readMax == 0) s.bytesRead -= <f64>(len - from - kept);
      limits.untakeReceived(<f64>(len - from - kept));
      return -<i32>(len - from - kept);
    }
    // The transport went on reading long after READ_STOP: fail the socket, do not grow.
    emit(abi.EV_ERROR, s.id, abi.ENOBUFS, abi.SYS_READ);
    return abi.ENOBUFS;
  }
  return 0;
}

function deliver(s: Sock): void {
  if (s.readMax > 0 && s.wantRead && s.recvSize > 0) {
    // onread: one bufferful per pull; EOF comes on the pull after the last one.
    let q = s.recvQ;
    let n = min(q.peekLen(), s.readMax);
    let full = min(q.size, s.readMax);
    if (n < full && full <= SCRATCH_SIZE) {
      // The bufferful spans slabs: gathered in scratch (apiRead and onEof, which call this, carry
      // no payload), so the consumer's buffer is filled as Node's read fills it.
      q.take(scratch, full);
      s.bytesRead += full;
      emit(abi.EV_DATA, s.id, 0, 0, 0, scratch, full);
      return;
    }
    s.bytesRead += n;
    emit(abi.EV_DATA, s.id, 0, 0, 0, q.peekPtr(), n);
    q.consume(n);
    return;
  }
  while (s.wantRead && s.recvSize > 0) {
    let n = s.recvQ.peekLen();
    emit(abi.EV_DATA, s.id, 0, 0, 0, s.recvQ.peekPtr(), n);
    s.recvQ.consume(n);
  }
  if (s.wantRead && s.readEnded() && !s.eofDelivered && s.state < State.Closing) {
    s.eofDelivered = true;
    emit(abi.EV_EOF, s.id);
  }
}

/** The peer sent FIN. */
export function onEof(s: Sock): i32 {
  switch (s.state) {
    case State.Open: s.setState(State.ReadEnded); break;         // the peer ends first
    case State.Ending: s.setState(State.LastEnding); break;      // both ending, ours not out yet
    case State.FinWait: s.setState(State.LastAck); break;        // both ending, ours in flight
    case State.WriteEnded: s.setState(State.Done); break;        // the peer answers our FIN
    default: return abi.EINVAL;                                  // not reading any more
  }
  s.reading = false; // a transport stops reading at EOF
  refreshIdle(s);     // a read, as Node's onStreamRead refreshes the timeout for EOF too
  deliver(s);
  settle(s);
  return 0;
}

// ---------------------------------------------------------------- errors, timers, closing

/** The transport failed; `op` is the operation that failed. */
export function onError(s: Sock, errno: i32, op: i32): i32 {
  if (op == abi.SYS_RESET && s.state == State.Closing) {
    // The transport refused the reset of a CLOSE (libuv: a shutdown under way) and stays open.
    emit(abi.EV_ERROR, s.id, errno, op);
    return 0;
  }
  if (!s.hasTransport()) return abi.EINVAL;
  if (s.state == State.Connecting) return onConnect(s, errno, abi.SYS_CONNECT, 0, 0, 0, 0, 0);
  s.reading = false;
  s.credit = 0;
  if (op == abi.SYS_WRITE && s.pendingRequests > 0) {
    // A write request fails with the error, as libuv fails the write (host/net destroys).
    s.marks.shift();
    emit(abi.EV_WRITE_DONE, s.id, errno);
  } else {
    emit(abi.EV_ERROR, s.id, errno, op);
  }
  return 0;
}

export function apiSetTimeout(s: Sock, ms: f64): i32 {
  if (s.state >= State.Closing) return abi.EBADF;
  s.idleMs = ms;
  if (ms <= 0) { if (s._idle !== null) s.idle.disarm(); }
  else s.idle.arm(now + ms, s.id, TIMER_IDLE);
  return 0;
}

export function apiRefreshTimeout(s: Sock): i32 {
  if (s.state >= State.Closing) return abi.EBADF;
  refreshIdle(s);
  return 0;
}

/** Activity: restart the idle timer (even after it fired, like Node's timeout.refresh()). */
function refreshIdle(s: Sock): void {
  if (s.idleMs > 0 && s.state < State.Closing) s.idle.arm(now + s.idleMs, s.id, TIMER_IDLE);
}

export function idleFired(s: Sock): void {
  if (s.state < State.Closing) emit(abi.EV_TIMEOUT, s.id);
}

/**
 * setNoDelay/setKeepAlive: the transport hears of a change only (Node's rule: the same value
 * again, or keep-alive off with another delay, is no call); before the connection, at connect.
 * A Unix socket or pipe has no options.
 */
export function apiSetOption(s: Sock, opt: i32, value: f64, value2: f64): i32 {
  let on = value != 0;
  if (opt == abi.OPT_NO_DELAY) {
    if (on == s.noDelay) return 0;
    s.noDelay = on;
  } else if (opt == abi.OPT_KEEP_ALIVE) {
    if (on == s.keepAlive && (!on || value2 == s.keepAliveDelay)) return 0;
    s.keepAlive = on;
    s.keepAliveDelay = value2;
  } else {
    return abi.EINVAL;
  }
  if (s.connected() && !s.ipc) emit(abi.CMD_SET_OPTION, s.id, opt, on ? 1 : 0, value2);
  return 0;
}

export function apiRef(s: Sock, on: bool): i32 {
  if (s.refed == on) return 0;
  s.refed = on;
  if (s.hasTransport()) emit(abi.CMD_REF, s.id, on ? 1 : 0);
  return 0;
}

/** apiDestroy flags. */
export const DESTROY_RESET: i32 = 1;     // RST instead of a graceful close
export const DESTROY_ERROR: i32 = 2;     // destroyed with an error: CLOSED says so (Node's 'close' argument)

/** destroy(): close the transport (RST with DESTROY_RESET); pending bytes are dropped. */
export function apiDestroy(s: Sock, flags: i32): i32 {
  let reset = (flags & DESTROY_RESET) != 0;
  switch (s.state) {
    case State.Idle:
    case State.Resolving:
      // No transport to close: closed at once (host/net defers 'close' like Node).
      s.hadError = (flags & DESTROY_ERROR) != 0;
      forget(s);
      finish(s, true);
      return 0;
    case State.Closing:
    case State.Closed:
      return abi.EBADF; // destroyed already
    default:
      // Connecting, or connected in any direction: the transport must be closed. A batch
      // of this turn leaves first (Node had handed those writes to the kernel already).
      pump(s);
      s.hadError = (flags & DESTROY_ERROR) != 0;
      s.setState(State.Closing);
      emit(abi.CMD_CLOSE, s.id, reset ? 1 : 0);
      forget(s);
      return 0;
  }
}

/** Gives up everything a socket holds; its listener no longer counts it. */
function forget(s: Sock): void {
  s.dropAll();
  s.reading = false;
  s.wantRead = false;
  s.blocked = false;
  if (s.server != 0) {
    let l = s.server;
    s.server = 0;
    connectionGone(l);
  }
}

/** The transport closed (after CLOSE, or on its own after an error). */
export function onClosed(s: Sock): i32 {
  switch (s.state) {
    case State.Closing: break; // the close we asked for
    default: return abi.EINVAL; // still ours: host/net destroys it after the error it got
  }
  finish(s, false);
  return 0;
}

/** CLOSED: `a` 1 when destroyed with an error, `b` 1 when there was no transport to wait for. */
function finish(s: Sock, atOnce: bool): void {
  // Requests still pending are canceled as libuv cancels writes at close, before 'close'.
  while (s.pendingRequests > 0) {
    s.marks.shift();
    emit(abi.EV_WRITE_DONE, s.id, abi.ECANCELED);
  }
  s.setState(State.Closed);
  if (s.counted) { s.counted = false; limits.socketClosed(); }
  dropSock(s);
  emit(abi.EV_CLOSED, s.id, s.hadError ? 1 : 0, atOnce ? 1 : 0);
}
