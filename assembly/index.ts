// wasinet's core: the exports a host calls. Theory of operation:
//
// The core is sans-IO. It never does I/O and never reads a clock or a random source: every
// export takes `now` (monotonic milliseconds) first, and every effect is an output record
// passed to the one import, `out` (bindings/host.ts). Exports come in three kinds:
//   api*  — user code acted (host/net calls them): connect, write, end, destroy, listen, ...
//   on*   — the transport acted (the backend calls them): connected, data, EOF, written, ...
//   query — read-only looks at the core (bytesRead, connections, ...); not part of a trace.
// After an api*/on* export returns, the host handles the records it was given, in order:
// commands go to the transport, notifications become events of Socket and Server objects.
// Handling them may call more exports; the core is never re-entered while an export runs.
// Payloads (bytes, addresses) travel through the scratch region (scratchPtr/scratchSize).
//
// Every api*/on* export returns a status (0, or an ABI errno) or a handle; a host may ignore
// statuses for inputs the core refuses (a late event for a socket that is gone, say).
// Handles are allocated by the core; a replay of the same inputs numbers everything the same.
import * as abi from "./abi";
import { setNow, emit, scratch, SCRATCH_SIZE, now, setHostFeatures, fillsAt } from "./emit";
import * as socket from "./socket";
import * as listen from "./listener";
import { sock, listener, newSock, sockets, listeners, created, resetCreated, forceNextHandle } from "./table";
import { timerEarliest, timerPeek, timerPopDue, TIMER_IDLE, TIMER_ATTEMPT, TIMER_USER, Timer, Entry } from "./timers";
import { slabsInUse } from "./pool";
import * as policy from "./policy";
import * as limits from "./limits";
import { heldBytes } from "./queue";


/**
 * Whether payload lengths fit the scratch region: `a` bytes, `sep` separator bytes, `b` bytes.
 * Every length an input is given is checked before it is used: a host's bad length is EINVAL,
 * never a trap.
 */
function fits(a: u32, sep: u32, b: u32): bool {
  return <u64>a + <u64>sep + <u64>b <= <u64>SCRATCH_SIZE;
}

// ---------------------------------------------------------------- the host wake-up

let requested: f64 = -1;
let timerSeq: u32 = 0;

/** Whether a heap entry still belongs to a live, armed timer at that deadline. */
function live(e: Entry): bool {
  if (e.kind == TIMER_USER) { let u = userTimer(e.handle); return u !== null && u.queued == e.deadline; }
  let s = sock(e.handle);
  if (s === null) return false;
  let t = e.kind == TIMER_IDLE ? s.idle : s.attemptTimer;
  return t.queued == e.deadline && t.armed();
}

/** Every input ends here: ask the host for a wake-up when the earliest deadline moved. */
function done<T>(result: T): T {
  // Drop dead entries at the top so the host is not woken for nothing.
  let top = timerPeek();
  while (top !== null && !live(top)) {
    if (top.kind == TIMER_USER) { let u = userTimer(top.handle); if (u !== null) u.queued = -1; }
    else { let s = sock(top.handle); if (s !== null) { if (top.kind == TIMER_IDLE) s.idle.queued = -1; else s.attemptTimer.queued = -1; } }
    timerPopDue(Infinity);
    top = timerPeek();
  }
  let e = timerEarliest();
  if (e != requested) {
    requested = e;
    // The sequence number lets a host drop a TIMER that a later one (from an input nested in
    // the handling of this input's records) already replaced.
    emit(abi.CMD_TIMER, 0, <f64>(++timerSeq), 0, e);
  }
  limits.checkMemory(); // coreMemory: a core that grew past it stops here (a contained trap)
  if (created >= COLLECT_EVERY) {
    // A full collection every so many sockets, at the end of an export (no managed reference
    // lives only on the stack here). The incremental collector alone lets the heap reach twice
    // what is live before it starts, and connecting makes garbage (names, address lists): the
    // memory it touched stays resident, about 300 bytes per idle connection.
    resetCreated();
    __collect();
  }
  return result;
}
const COLLECT_EVERY: u32 = 256;

// ---------------------------------------------------------------- the sandbox

/**
 * The stack's policy: a table of `len` bytes in scratch (assembly/policy.ts has its layout).
 * Given once, before any other input; EINVAL for a malformed table (the previous one stays).
 */
export function apiPolicy(t: f64, len: u32): i32 {
  setNow(t);
  if (!fits(len, 0, 0)) return done(abi.EINVAL);
  return done(policy.setTable(len) ? 0 : abi.EINVAL);
}

/** The stack's limits (a negative value: none); see assembly/limits.ts. */
export function apiLimits(t: f64, sockets: f64, listeners: f64, socketBuffer: f64, stackBuffer: f64,
  sent: f64, received: f64, coreMemory: f64): i32 {
  setNow(t);
  limits.setLimits(sockets, listeners, socketBuffer, stackBuffer, sent, received, coreMemory);
  return done(0);
}

/**
 * How far TCP sockets batch a turn's writes: writes of up to `max` bytes, `cap` bytes in all
 * (by default 8 KiB and 64 KiB, as a Unix socket always). Given once per core instance by a
 * host whose transport gains from larger writes; EINVAL unless 0 <= max <= cap <= 256 KiB.
 */
export function apiBatching(t: f64, max: f64, cap: f64): i32 {
  setNow(t);
  if (!(max >= 0 && max <= cap && cap <= <f64>socket.BATCH_LIMIT)) return done(abi.EINVAL);
  socket.setTcpBatching(<u32>max, <u32>cap);
  return done(0);
}

/**
 * What the stack uses (a query): 0 sockets open, 1 listeners open, 2 bytes the queues hold,
 * 3 bytes sent, 4 bytes received, 5 linear memory bytes, 6 accepted connections dropped for
 * the sockets limit, 7 policy refusals, 8 the most bytes one socket holds.
 */
export function usage(what: i32): f64 {
  switch (what) {
    case 0: return <f64>limits.openSockets;
    case 1: return <f64>limits.openListeners;
    case 2: return heldBytes();
    case 3: return limits.sentTotal;
    case 4: return limits.receivedTotal;
    case 5: return limits.memoryBytes();
    case 6: return limits.dropped;
    case 7: return policy.refusals;
    case 8: {
      let most: u32 = 0;
      let keys = sockets.keys();
      for (let i = 0; i < keys.length; i++) {
        let s = sockets.get(keys[i]);
        most = max(most, s.sendSize + s.recvSize);
      }
      return <f64>most;
    }
  }
  return -1;
}

/** The wake-up asked for by TIMER came: run every timer that is due. */
export function onTimer(t: f64): i32 {
  setNow(t);
  requested = -2; // always answer with the next deadline, even if it did not move
  let e = timerPopDue(now);
  while (e !== null) {
    if (e.kind == TIMER_USER) {
      let u = userTimer(e.handle);
      if (u !== null && u.due(e, now)) {
        dropUserTimer(e.handle);
        emit(abi.EV_USER_TIMER, 0, e.handle);
      }
    } else {
      let s = sock(e.handle);
      if (s !== null) {
        if (e.kind == TIMER_IDLE && s.idle.due(e, now)) socket.idleFired(s);
        else if (e.kind == TIMER_ATTEMPT && s.attemptTimer.due(e, now)) socket.attemptTimedOut(s);
      }
    }
    e = timerPopDue(now);
  }
  return done(0);
}

// Timers of the stack itself (stack.setTimeout): deterministic because they run on `now`.
const userTimers = new Map<u32, Timer>();
// The user timer last looked up (a pending one is at the heap's top at the end of every input).
let lastTimerId: u32 = 0;
let lastTimer: Timer | null = null;

function userTimer(id: u32): Timer | null {
  if (id == lastTimerId && lastTimer !== null) return lastTimer;
  if (!userTimers.has(id)) return null;
  let u = userTimers.get(id);
  lastTimerId = id;
  lastTimer = u;
  return u;
}

function dropUserTimer(id: u32): void {
  userTimers.delete(id);
  if (id == lastTimerId) lastTimer = null;
}

export function apiTimerSet(t: f64, id: u32, delay: f64): i32 {
  setNow(t);
  let u = new Timer();
  userTimers.set(id, u);
  if (id == lastTimerId) lastTimer = null;
  u.arm(now + (delay > 0 ? delay : 0), id, TIMER_USER);
  return done(0);
}

export function apiTimerClear(t: f64, id: u32): i32 {
  setNow(t);
  let u = userTimer(id);
  if (u !== null) {
    u.disarm();
    dropUserTimer(id);
  }
  return done(0);
}

// ---------------------------------------------------------------- sockets: API inputs

/** A new socket, not connected. Returns its handle. */
export function apiSocket(t: f64): u32 {
  setNow(t);
  return done(newSock().id);
}

export function apiConnect(t: f64, h: u32, target: i32, port: i32, localPort: i32, hostLen: u32,
  localLen: u32, resolveFlags: i32, attemptMs: f64): i32 {
  setNow(t);
  let s = sock(h);
  if (!fits(hostLen, 1, localLen)) return done(abi.EINVAL);
  return done(s === null ? abi.EBADF : socket.apiConnect(s, target, port, localPort, hostLen, localLen, resolveFlags, attemptMs));
}

/** Wraps an existing socket: `kind` 0, `fd` is a file descriptor; 1, the host's token for a stream handle object; 2, the handle of a connection whose TLS session this socket carries. */
export function apiOpen(t: f64, h: u32, fd: i32, kind: i32): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.apiOpen(s, fd, kind));
}

/**
 * A host with FILL_AT that keeps the payload in its own buffer may offer more than scratch
 * holds (up to WRITE_LIMIT): the core then reads none of it from scratch, and a WRITE pointing
 * at scratch names the payload from its start (docs/abi.md).
 */
export function apiWrite(t: f64, h: u32, len: u32, last: bool): i32 {
  setNow(t);
  let s = sock(h);
  if (len > SCRATCH_SIZE && (!fillsAt() || len > abi.WRITE_LIMIT)) return done(-abi.EINVAL);
  return done(s === null ? -abi.EBADF : socket.apiWrite(s, len, last));
}

export function apiEnd(t: f64, h: u32): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.apiEnd(s));
}

/** `max` 0: deliver everything, in DATA of at most 64 KiB; `max` > 0: one DATA of at most `max` (onread). */
export function apiRead(t: f64, h: u32, max: u32): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.apiRead(s, max));
}

export function apiPause(t: f64, h: u32): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.apiPause(s));
}

/** `flags`: DESTROY_RESET (1) for an RST, DESTROY_ERROR (2) when destroyed with an error. */
export function apiDestroy(t: f64, h: u32, flags: i32): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.apiDestroy(s, flags));
}

export function apiSetTimeout(t: f64, h: u32, ms: f64): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.apiSetTimeout(s, ms));
}

/** Activity the consumer saw that the core did not carry (Node's `_unrefTimer`): refresh the idle timer. */
export function apiRefreshTimeout(t: f64, h: u32): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.apiRefreshTimeout(s));
}

export function apiSetOption(t: f64, h: u32, opt: i32, value: f64, value2: f64): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.apiSetOption(s, opt, value, value2));
}

/** The end of the turn the host was asked to mark (FLUSH_LATER): batched writes leave. */
export function apiFlush(t: f64): i32 {
  setNow(t);
  socket.flushTurn();
  return done(0);
}

/** ref/unref a socket or a listener. */
export function apiRef(t: f64, h: u32, on: bool): i32 {
  setNow(t);
  let s = sock(h);
  if (s !== null) return done(socket.apiRef(s, on));
  let l = listener(h);
  return done(l === null ? abi.EBADF : listen.apiRef(l, on));
}

// ---------------------------------------------------------------- sockets: transport inputs

export function onResolved(t: f64, h: u32, count: u32, len: u32): i32 {
  setNow(t);
  let s = sock(h);
  if (len > SCRATCH_SIZE) return done(-abi.EINVAL);
  return done(s === null ? -abi.EBADF : socket.onResolved(s, count, len));
}

export function onConnect(t: f64, h: u32, status: i32, op: i32, credit: f64, localPort: i32,
  remotePort: i32, family: i32, len: u32): i32 {
  setNow(t);
  let s = sock(h);
  if (!fits(len, 0, 0)) return done(abi.EINVAL);
  return done(s === null ? abi.EBADF : socket.onConnect(s, status, op, credit, localPort, remotePort, family, len));
}

/**
 * The application asked for the local name of a connected socket whose transport reported none
 * at connect (`onConnect` with an empty local address): the host asked the transport, and tells
 * the core what it answered (`port`, the address in scratch), so that a trace records it and an
 * application replay answers the same. The core keeps no names: this input only records.
 */
export function apiLocalName(t: f64, h: u32, port: i32, len: u32): i32 {
  return nameTold(t, h, port, len);
}

/** The peer's name, told as `apiLocalName` tells the local one (an accepted socket's transport may leave both out). */
export function apiPeerName(t: f64, h: u32, port: i32, len: u32): i32 {
  return nameTold(t, h, port, len);
}

/** Checks a name the host tells (apiLocalName, apiPeerName); the core keeps none. */
function nameTold(t: f64, h: u32, port: i32, len: u32): i32 {
  setNow(t);
  let s = sock(h);
  if (!fits(len, 0, 0) || port < 0 || port > 65535) return done(abi.EINVAL);
  // While connecting, the local name is the attempt's (its socket is bound once it connects).
  return done(s === null ? abi.EBADF : s.connected() || s.state == abi.State.Connecting ? 0 : abi.ENOTCONN);
}

export function onBound(t: f64, h: u32): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.onBound(s));
}

export function onData(t: f64, h: u32, len: u32): i32 {
  setNow(t);
  let s = sock(h);
  if (len > SCRATCH_SIZE) return done(abi.EINVAL);
  return done(s === null ? abi.EBADF : socket.onData(s, len));
}

export function onEof(t: f64, h: u32): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.onEof(s));
}

export function onWritten(t: f64, h: u32, flushed: f64, credit: f64): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.onWritten(s, flushed, credit));
}

export function onShutdown(t: f64, h: u32, status: i32): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.onShutdown(s, status));
}

/** A socket's or a listener's transport failed in `op` (a SYS_* value). */
export function onError(t: f64, h: u32, errno: i32, op: i32): i32 {
  setNow(t);
  let s = sock(h);
  if (s !== null) return done(socket.onError(s, errno, op));
  let l = listener(h);
  return done(l === null ? abi.EBADF : listen.onError(l, errno, op));
}

export function onClosed(t: f64, h: u32): i32 {
  setNow(t);
  let s = sock(h);
  return done(s === null ? abi.EBADF : socket.onClosed(s));
}

// ---------------------------------------------------------------- listeners

export function apiListen(t: f64, port: i32, backlog: i32, flags: i32, len: u32, prev: u32, maxConnections: f64): u32 {
  setNow(t);
  if (!fits(len, 0, 0)) return done(0); // no listener: the host reports EINVAL
  return done(listen.apiListen(port, backlog, flags, len, prev, maxConnections));
}

export function apiServerClose(t: f64, h: u32): i32 {
  setNow(t);
  let l = listener(h);
  return done(l === null ? abi.EBADF : listen.apiClose(l));
}

export function apiSetMaxConnections(t: f64, h: u32, n: f64): i32 {
  setNow(t);
  let l = listener(h);
  if (l === null) return done(abi.EBADF);
  l.maxConnections = n;
  return done(0);
}

export function onListening(t: f64, h: u32, status: i32, op: i32, port: i32, family: i32, len: u32): i32 {
  setNow(t);
  if (!fits(len, 0, 0)) return done(abi.EINVAL);
  let l = listener(h);
  return done(l === null ? abi.EBADF : listen.onListening(l, status, op, port, family, len));
}

export function onConnection(t: f64, h: u32, credit: f64, family: i32, ports: f64, len: u32): u32 {
  setNow(t);
  if (!fits(len, 0, 0)) return done(0);
  let l = listener(h);
  return done(l === null ? 0 : listen.onConnection(l, credit, family, ports, len));
}

// ---------------------------------------------------------------- queries

/**
 * A 32-bit summary (FNV-1a, byte by byte) of one handle's state: state, counters, credit, queue
 * sizes and deadlines. A trace records it after each input, so a replay notices a divergence (a
 * changed `now`, a changed byte count) even before it shows in an output. Traces whose header
 * says `outputs` 3 use digestWords instead.
 */
export function digest(h: u32): u32 {
  return stateDigest(h, false);
}

/**
 * The same summary folded a 64-bit word at a time (FNV-1a's step on words, then the halves
 * xor-ed): what recordings use now (`outputs` 3), about eight times fewer steps than digest.
 */
export function digestWords(h: u32): u32 {
  return stateDigest(h, true);
}

/** The digest being made (stateDigest), and whether it folds words or bytes. */
let dx: u64 = 0;
let dWords = false;

function stateDigest(h: u32, words: bool): u32 {
  dWords = words;
  dx = words ? 0xcbf29ce484222325 : 2166136261;
  let s = sock(h);
  if (s !== null) {
    put(<f64>s.state); put(s.credit); put(s.accepted); put(s.sent);
    put(s.flushed); put(<f64>s.pendingRequests); put(<f64>s.sendSize);
    put(<f64>s.recvSize); put(s.bytesRead); put(s.idleAt); put(s.attemptAt);
    put((s.reading ? 1 : 0) + (s.wantRead ? 2 : 0) + (s.blocked ? 4 : 0) + (s.eofDelivered ? 8 : 0));
  }
  let l = listener(h);
  if (l !== null) { put(<f64>l.state); put(<f64>l.count); put(l.maxConnections); }
  put(timerEarliest());
  put(now);
  return words ? <u32>(dx ^ (dx >> 32)) : <u32>dx;
}

function put(v: f64): void {
  let bits = reinterpret<u64>(v);
  if (dWords) {
    dx = (dx ^ bits) * 0x100000001b3;
    return;
  }
  let x = <u32>dx;
  for (let i = 0; i < 8; i++) {
    x ^= <u32>(bits & 0xff);
    x *= 16777619;
    bits >>= 8;
  }
  dx = x;
}

/**
 * What the host handles beyond the plain forms: FEATURE_FILL_AT, FEATURE_GATHER (docs/abi.md).
 * Not an input: told once, before any input, by every host that handles them, and changes no
 * output record (a host that gathers hands on the same WRITE), so traces do not depend on it.
 */
export function hostFeatures(bits: u32): void { setHostFeatures(bits); }

/**
 * hashBytes of the bytes a gathered WRITE names (its table: `len` bytes at `ptr`), as if they
 * were one run: a host that gathers digests the WRITE as the core would have sent it whole.
 */
export function hashGathered(ptr: usize, len: u32): u32 {
  // Without putting the runs together: whole 32-byte blocks are hashed where they lie, and a
  // block split between runs is assembled in `carry` first.
  hashStart();
  let total: u32 = 0;
  let held: usize = 0; // bytes of a split block waiting in carry
  for (let e = ptr; e < ptr + <usize>len; e += 8) {
    let p = <usize>load<u32>(e);
    let n = <usize>load<u32>(e, 4);
    total += <u32>n;
    if (held > 0) {
      const k = min<usize>(32 - held, n);
      memory.copy(carry + held, p, k);
      held += k;
      p += k;
      n -= k;
      if (held < 32) continue;
      hashBlocks(carry, 32);
      held = 0;
    }
    hashBlocks(p, n & ~(<usize>31));
    held = n & 31;
    memory.copy(carry, p + n - held, held);
  }
  return hashEnd(carry, held, total);
}

/**
 * A 32-bit hash of the bytes [ptr, ptr+len) of this memory: how a trace (format 2, outputs 2)
 * counts the payload of an output the core hands out of its own queues. Four independent lanes
 * of 8 bytes each, so it runs at memory speed; not for adversaries, only to notice a replay
 * whose bytes differ or come in another order.
 */
export function hashBytes(ptr: usize, len: u32): u32 {
  hashStart();
  const whole = <usize>len & ~(<usize>31);
  hashBlocks(ptr, whole);
  return hashEnd(ptr + whole, <usize>len - whole, len);
}

const H_K: u64 = 0x9FB21C651E98DF25;
/** The four lanes of the hash being made (hashBytes, hashGathered). */
let lane0: u64 = 0, lane1: u64 = 0, lane2: u64 = 0, lane3: u64 = 0;
/** Where hashGathered assembles a 32-byte block split between runs. */
const carry: usize = heap.alloc(32);

function hashStart(): void {
  lane0 = 0x9E3779B97F4A7C15;
  lane1 = 0xC2B2AE3D27D4EB4F;
  lane2 = 0x165667B19E3779F9;
  lane3 = 0x27D4EB2F165667C5;
}

/** Folds `len` bytes at `p` (a multiple of 32) into the lanes, 8 bytes into each per 32. */
function hashBlocks(p: usize, len: usize): void {
  let a = lane0, b = lane1, c = lane2, d = lane3;
  const end = p + len;
  while (p < end) {
    a = rotl<u64>(a ^ load<u64>(p), 29) * H_K;
    b = rotl<u64>(b ^ load<u64>(p, 8), 29) * H_K;
    c = rotl<u64>(c ^ load<u64>(p, 16), 29) * H_K;
    d = rotl<u64>(d ^ load<u64>(p, 24), 29) * H_K;
    p += 32;
  }
  lane0 = a; lane1 = b; lane2 = c; lane3 = d;
}

/** The last `n` (under 32) bytes at `p`, the lanes and the whole length, folded into 32 bits. */
function hashEnd(p: usize, n: usize, len: u32): u32 {
  let t: u64 = <u64>len;
  const end = p + n;
  while (p + 8 <= end) { t = rotl<u64>(t ^ load<u64>(p), 29) * H_K; p += 8; }
  while (p < end) { t = (t ^ <u64>load<u8>(p)) * H_K; p++; }
  let h = lane0 ^ rotl<u64>(lane1, 17) ^ rotl<u64>(lane2, 31) ^ rotl<u64>(lane3, 47) ^ t;
  h ^= h >> 32;
  h *= H_K;
  h ^= h >> 29;
  return <u32>h;
}

export function abiVersion(): u32 { return abi.ABI_VERSION; }
/** Not a query: the handle the next socket or listener gets (an application replay's, docs/abi.md). */
export function replayNextHandle(h: u32): void { forceNextHandle(h); }
export function scratchPtr(): usize { return scratch; }
export function scratchSize(): u32 { return SCRATCH_SIZE; }
export function bytesRead(h: u32): f64 { let s = sock(h); return s === null ? -1 : s.bytesRead; }
export function writeQueueSize(h: u32): u32 { let s = sock(h); return s === null ? 0 : s.sendSize; }
/** Bytes received and not yet delivered (the consumer paused, or reads into a smaller buffer). */
export function readQueueSize(h: u32): u32 { let s = sock(h); return s === null ? 0 : s.recvSize; }
export function socketState(h: u32): i32 { let s = sock(h); return s === null ? -1 : <i32>s.state; }
/**
 * Bit 0: the consumer wants data (apiRead .. apiPause); bit 1: ref'ed; bit 2: IPC; bit 3: wired
 * (a CONNECT or OPEN went to the transport: it knows this handle). 0 for a freed handle.
 */
export function socketFlags(h: u32): i32 {
  let s = sock(h);
  return s === null ? 0 : (s.wantRead ? 1 : 0) | (s.refed ? 2 : 0) | (s.ipc ? 4 : 0) | (s.wired ? 8 : 0);
}
/**
 * How many bytes an apiWrite of `h` would hand to the transport at once now (a query): its
 * credit when nothing waits in the send queue, else 0. A host that buffers a writer's bytes
 * itself sizes one write by it (the plugin host's socket_write).
 */
export function writeRoom(h: u32): f64 { let s = sock(h); return s === null ? 0 : socket.writeRoom(s); }
/**
 * Whether listener `h` drops the next connection for its maxConnections (a query): the host then
 * gives that connection's names at once, for the server's 'drop' event, instead of on first use.
 */
export function dropsNext(h: u32): i32 {
  let l = listener(h);
  return l !== null && l.maxConnections != 0 && <f64>l.count >= l.maxConnections ? 1 : 0;
}
export function connections(h: u32): i32 { let l = listener(h); return l === null ? -1 : l.count; }
export function maxConnections(h: u32): f64 { let l = listener(h); return l === null ? 0 : l.maxConnections; }
export function listenerState(h: u32): i32 { let l = listener(h); return l === null ? -1 : <i32>l.state; }
export function liveSockets(): i32 { return sockets.size; }
export function liveListeners(): i32 { return listeners.size; }
export function slabs(): u32 { return slabsInUse(); }

