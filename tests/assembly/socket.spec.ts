// The socket state machine: every state against every input, through the core's own exports,
// observing outputs with the core's tap exactly as a host sees them.
import * as core from "../../assembly/index";
import * as abi from "../../assembly/abi";
import { State } from "../../assembly/abi";
import { tap, tapped, scratch } from "../../assembly/emit";
import { TARGET_IP4, TARGET_NAME, TARGET_IPC } from "../../assembly/socket";

let t: f64 = 1000;
function now(): f64 { t += 1; return t; }
/** Moves the clock to `x` (never back: the core ignores time going backwards). */
function at(x: f64): f64 { if (x > t) t = x; return t; }

function putString(s: string, at: u32 = 0): u32 {
  let b = String.UTF8.encode(s);
  memory.copy(scratch + at, changetype<usize>(b), b.byteLength);
  store<u8>(scratch + at + b.byteLength, 0);
  return b.byteLength;
}

function ops(): string {
  let s = "";
  for (let i = 0; i < tapped.length; i++) s += (i ? "," : "") + tapped[i].op.toString();
  return s;
}

function has(op: u32): bool {
  for (let i = 0; i < tapped.length; i++) if (tapped[i].op == op) return true;
  return false;
}

// ---------------------------------------------------------------- fixtures: reach each state

function idle(): u32 { return core.apiSocket(now()); }

function resolving(): u32 {
  let h = idle();
  let n = putString("example.test");
  core.apiConnect(now(), h, TARGET_NAME, 80, 0, n, 0, 0, 250);
  return h;
}

function connecting(): u32 {
  let h = idle();
  let n = putString("127.0.0.1");
  core.apiConnect(now(), h, TARGET_IP4, 80, 0, n, 0, 0, 250);
  return h;
}

/** Connected with `credit` bytes of transport credit. */
function open(credit: f64 = 1048576.0): u32 {
  let h = connecting();
  let a = putString("127.0.0.1");
  putString("127.0.0.1", a + 1);
  core.onConnect(now(), h, 0, 0, credit, 5000, 80, 4, a * 2 + 1);
  return h;
}

/** A Unix socket, connected with 1 MiB of transport credit. */
function openIpc(): u32 {
  let h = idle();
  let n = putString("/tmp/wasinet-spec.sock");
  core.apiConnect(now(), h, TARGET_IPC, 0, 0, n, 0, 0, 250);
  core.onConnect(now(), h, 0, 0, 1048576.0, 0, 0, 0, 0);
  return h;
}

/** Queues one byte the transport cannot take (no credit). */
function queueByte(h: u32): void {
  store<u8>(scratch, 65);
  core.apiWrite(now(), h, 1, true);
}

function ending(): u32 { let h = open(0); queueByte(h); core.apiEnd(now(), h); return h; }
function finWait(): u32 { let h = open(); core.apiEnd(now(), h); return h; }
function writeEnded(): u32 { let h = finWait(); core.onShutdown(now(), h, 0); return h; }
function readEnded(): u32 { let h = open(); core.onEof(now(), h); return h; }
function lastEnding(): u32 { let h = open(0); queueByte(h); core.onEof(now(), h); core.apiEnd(now(), h); return h; }
function lastAck(): u32 { let h = readEnded(); core.apiEnd(now(), h); return h; }
function done(): u32 { let h = lastAck(); core.onShutdown(now(), h, 0); return h; }
function closing(): u32 { let h = open(); core.apiDestroy(now(), h, 0); return h; }

function reach(s: State): u32 {
  switch (s) {
    case State.Idle: return idle();
    case State.Resolving: return resolving();
    case State.Connecting: return connecting();
    case State.Open: return open();
    case State.Ending: return ending();
    case State.FinWait: return finWait();
    case State.WriteEnded: return writeEnded();
    case State.ReadEnded: return readEnded();
    case State.LastEnding: return lastEnding();
    case State.LastAck: return lastAck();
    case State.Done: return done();
    case State.Closing: return closing();
    case State.Closed: return closed();
  }
  return 0;
}

// ---------------------------------------------------------------- inputs

const I_WRITE = 0, I_END = 1, I_EOF = 2, I_SHUTDOWN = 3, I_DATA = 4, I_DESTROY = 5, I_CLOSED = 6,
  I_ERROR = 7, I_CONNECT = 8, I_WRITTEN = 9, I_READ = 10, I_API_CONNECT = 11, I_OPEN = 12, I_RESOLVED = 13,
  I_BOUND = 14, I_PAUSE = 15, I_SET_TIMEOUT = 16, I_OPTION = 17, I_REF = 18;
const INPUTS = 19;

function apply(input: i32, h: u32): i32 {
  switch (input) {
    case I_WRITE: store<u8>(scratch, 66); return core.apiWrite(now(), h, 1, true);
    case I_END: return core.apiEnd(now(), h);
    case I_EOF: return core.onEof(now(), h);
    case I_SHUTDOWN: return core.onShutdown(now(), h, 0);
    case I_DATA: store<u8>(scratch, 67); return core.onData(now(), h, 1);
    case I_DESTROY: return core.apiDestroy(now(), h, 0);
    case I_CLOSED: return core.onClosed(now(), h);
    case I_ERROR: return core.onError(now(), h, abi.ECONNRESET, abi.SYS_READ);
    case I_CONNECT: return core.onConnect(now(), h, 0, 0, 100, 1, 2, 4, 0);
    case I_WRITTEN: core.onWritten(now(), h, 0, 1048576.0); return core.onWritten(now(), h, 1, 1048576.0);
    case I_READ: return core.apiRead(now(), h, 0);
    case I_API_CONNECT: { let n = putString("10.9.8.7"); return core.apiConnect(now(), h, TARGET_IP4, 1, 0, n, 0, 0, 250); }
    case I_OPEN: return core.apiOpen(now(), h, 7, 0);
    case I_RESOLVED: {
      store<u8>(scratch, 4); store<u8>(scratch + 1, 7); putString("1.2.3.4", 2);
      let r = core.onResolved(now(), h, 1, 9);
      return r < 0 ? r : 0;
    }
    case I_BOUND: return core.onBound(now(), h);
    case I_PAUSE: return core.apiPause(now(), h);
    case I_SET_TIMEOUT: return core.apiSetTimeout(now(), h, 100);
    case I_OPTION: return core.apiSetOption(now(), h, abi.OPT_NO_DELAY, 1, 0);
    case I_REF: return core.apiRef(now(), h, false);
  }
  return -99;
}

/** A handle that was closed and freed: the core no longer knows it. */
function closed(): u32 { let h = closing(); core.onClosed(now(), h); return h; }

const GONE: i32 = -1; // socketState() of a handle the core has freed

// Expected state after each input, per starting state: the transition table, one row a state.
// Columns: write end eof shutdown data destroy closed error connect(ok) written read
//          apiConnect apiOpen onResolved onBound pause setTimeout setOption ref
const TABLE: i32[][] = [
  /*Idle*/      [0, 0, 0, 0, 0, GONE, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0, 0],
  /*Resolving*/ [1, 1, 1, 1, 1, GONE, 1, 1, 1, 1, 1, 2, 1, 2, 1, 1, 1, 1, 1], // apiConnect to an address: tried at once
  /*Connecting*/[2, 2, 2, 2, 2, 11, 2, 2, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
  /*Open*/      [3, 5, 7, 3, 3, 11, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
  /*Ending*/    [4, 4, 8, 4, 4, 11, 4, 4, 4, 5, 4, 4, 4, 4, 4, 4, 4, 4, 4],
  /*FinWait*/   [5, 5, 9, 6, 5, 11, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
  /*WriteEnded*/[6, 6, 10, 6, 6, 11, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6],
  /*ReadEnded*/ [7, 9, 7, 7, 7, 11, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7],
  /*LastEnding*/[8, 8, 8, 8, 8, 11, 8, 8, 8, 9, 8, 8, 8, 8, 8, 8, 8, 8, 8],
  /*LastAck*/   [9, 9, 9, 10, 9, 11, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9],
  /*Done*/      [10, 10, 10, 10, 10, 11, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
  /*Closing*/   [11, 11, 11, 11, 11, 11, GONE, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11],
  /*Closed*/    [GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE],
];

describe("socket state machine", () => {
  it("every state against every input follows the transition table", () => {
    let failures = 0;
    for (let s = 0; s < TABLE.length; s++) {
      for (let i = 0; i < INPUTS; i++) {
        let h = reach(<State>s);
        expect(core.socketState(h)).toBe(s == <i32>State.Closed ? GONE : s, "fixture for state " + s.toString());
        apply(i, h);
        let got = core.socketState(h);
        if (got != TABLE[s][i]) {
          failures++;
          trace("state " + s.toString() + " input " + i.toString() + " -> " + got.toString() + ", want " + TABLE[s][i].toString());
        }
        // Free it, so that its timers cannot fire in the tests below.
        core.apiDestroy(now(), h, 0);
        core.onClosed(now(), h);
      }
    }
    expect(failures).toBe(0);
  });

  it("inputs a state does not accept are refused without output", () => {
    let h = idle();
    tap(true);
    expect(core.onEof(now(), h)).toBe(abi.EINVAL);
    expect(core.onData(now(), h, 1)).toBe(abi.EINVAL);
    expect(core.apiWrite(now(), h, 1, true)).toBe(-abi.ENOTCONN);
    expect(tapped.length).toBe(0);
    tap(false);
  });

  it("a freed handle refuses every input with EBADF and emits nothing", () => {
    let h = closed();
    tap(true);
    for (let i = 0; i < INPUTS; i++) {
      let r = apply(i, h);
      expect(r == abi.EBADF || r == -abi.EBADF).toBe(true, "input " + i.toString());
    }
    expect(tapped.length).toBe(0);
    tap(false);
  });

  it("an unknown handle gets EBADF", () => {
    expect(core.apiEnd(now(), 999999)).toBe(abi.EBADF);
    expect(core.onData(now(), 999999, 1)).toBe(abi.EBADF);
  });
});

describe("connecting", () => {
  it("an address literal is tried at once: CONNECT_ATTEMPT then CONNECT", () => {
    let h = idle();
    let n = putString("10.0.0.1");
    tap(true);
    core.apiConnect(now(), h, TARGET_IP4, 8080, 0, n, 0, 0, 250);
    expect(ops()).toBe(abi.EV_CONNECT_ATTEMPT.toString() + "," + abi.CMD_CONNECT.toString());
    expect(tapped[1].a).toBe(8080);
    expect(tapped[1].b).toBe(4);
    tap(false);
  });

  it("a host name is resolved first", () => {
    let h = idle();
    let n = putString("example.test");
    tap(true);
    core.apiConnect(now(), h, TARGET_NAME, 80, 0, n, 0, 0, 250);
    expect(tapped[0].op).toBe(abi.CMD_RESOLVE);
    expect(tapped[0].data).toBe("example.test");
    tap(false);
  });

  it("several addresses are tried in turn, with an attempt timer between them", () => {
    let h = resolving();
    // two records: [4]["10.0.0.1"], [6]["::1"]
    store<u8>(scratch, 4); store<u8>(scratch + 1, 8); putString("10.0.0.1", 2);
    store<u8>(scratch + 10, 6); store<u8>(scratch + 11, 3); putString("::1", 12);
    tap(true);
    expect(core.onResolved(now(), h, 2, 15)).toBe(2);
    expect(has(abi.CMD_CONNECT)).toBe(true);
    expect(has(abi.CMD_TIMER)).toBe(true);
    tap(true);
    core.onTimer(at(t + 1000));
    expect(has(abi.EV_CONNECT_ATTEMPT_TIMEOUT)).toBe(true);
    expect(tapped[1].op).toBe(abi.EV_CONNECT_ATTEMPT);
    expect(tapped[1].data).toBe("::1");
    tap(true);
    core.onConnect(now(), h, abi.ECONNREFUSED, abi.SYS_CONNECT, 0, 0, 0, 0, 0);
    expect(has(abi.EV_CONNECT_ATTEMPT_FAILED)).toBe(true);
    expect(has(abi.EV_ATTEMPTS_FAILED)).toBe(true);
    tap(false);
  });

  it("connect to an address while resolving: tried at once; the lookup's late answer is refused, no output", () => {
    let h = resolving();
    let n = putString("10.0.0.2");
    tap(true);
    expect(core.apiConnect(now(), h, TARGET_IP4, 8081, 0, n, 0, 0, 250)).toBe(0);
    expect(ops()).toBe(abi.EV_CONNECT_ATTEMPT.toString() + "," + abi.CMD_CONNECT.toString());
    expect(tapped[1].a).toBe(8081);
    tap(true);
    store<u8>(scratch, 4); store<u8>(scratch + 1, 8); putString("10.0.0.1", 2);
    expect(core.onResolved(now(), h, 1, 10)).toBeLessThan(0);
    expect(tapped.length).toBe(0);
    // Connecting now: a third connect (a name, or an address) is refused as before.
    n = putString("10.0.0.3");
    expect(core.apiConnect(now(), h, TARGET_IP4, 8082, 0, n, 0, 0, 250)).toBe(abi.EISCONN);
    n = putString("example.test");
    expect(core.apiConnect(now(), resolving(), TARGET_NAME, 80, 0, n, 0, 0, 250)).toBe(abi.EISCONN);
    expect(has(abi.CMD_CONNECT)).toBe(false);
    tap(false);
  });

  it("a refused single attempt reports the error with address and port", () => {
    let h = connecting();
    tap(true);
    core.onConnect(now(), h, abi.ECONNREFUSED, abi.SYS_CONNECT, 0, 0, 0, 0, 0);
    expect(tapped[1].op).toBe(abi.EV_ERROR);
    expect(tapped[1].a).toBe(abi.ECONNREFUSED);
    expect(tapped[1].c).toBe(80);
    expect(tapped[1].data).toBe("127.0.0.1\0"); // address NUL local address (none here)
    tap(false);
  });
});

describe("writing", () => {
  it("a write within credit goes straight to the transport and completes once confirmed", () => {
    let h = open(1048576.0);
    tap(true);
    store<u8>(scratch, 1);
    expect(core.apiWrite(now(), h, 100, true)).toBe(100);
    expect(ops()).toBe(abi.CMD_WRITE.toString());
    tap(true);
    core.onWritten(now(), h, 100, 1048576.0);
    expect(ops()).toBe(abi.EV_WRITE_DONE.toString());
    tap(false);
  });

  it("never sends past its credit: 1-byte credit sends 1 byte at a time", () => {
    let h = open(1);
    tap(true);
    expect(core.apiWrite(now(), h, 10, true)).toBe(10);
    let sent = 0;
    for (let i = 0; i < tapped.length; i++) if (tapped[i].op == abi.CMD_WRITE) sent += tapped[i].data.length;
    expect(sent).toBe(1);
    for (let k = 0; k < 9; k++) {
      tap(true);
      core.onWritten(now(), h, 1, 1);
      expect(tapped[0].op).toBe(abi.CMD_WRITE);
      expect(tapped[0].data.length).toBe(1);
    }
    tap(true);
    core.onWritten(now(), h, 1, 1);
    expect(ops()).toBe(abi.EV_WRITE_DONE.toString());
    tap(false);
  });

  it("refuses what does not fit and asks for more with WRITABLE once it drained", () => {
    let h = open(0);
    let taken = 0;
    while (true) {
      let n = core.apiWrite(now(), h, 65536, false);
      taken += n;
      if (n < 65536) break;
    }
    expect(taken).toBe(65536);
    tap(true);
    core.onWritten(now(), h, 0, 1048576.0);
    expect(has(abi.EV_WRITABLE)).toBe(true);
    tap(false);
  });

  it("FIN waits for the queue: SHUTDOWN only after the last byte is confirmed", () => {
    let h = open(0);
    queueByte(h);
    tap(true);
    core.apiEnd(now(), h);
    expect(has(abi.CMD_SHUTDOWN)).toBe(false);
    tap(true);
    core.onWritten(now(), h, 0, 10);
    expect(has(abi.CMD_SHUTDOWN)).toBe(false); // handed over, not yet confirmed
    tap(true);
    core.onWritten(now(), h, 1, 10);
    expect(ops()).toBe(abi.EV_WRITE_DONE.toString() + "," + abi.CMD_SHUTDOWN.toString());
    tap(false);
  });

  it("destroy cancels pending writes when the transport closes, before CLOSED", () => {
    let h = open(0);
    queueByte(h);
    core.apiDestroy(now(), h, 0);
    tap(true);
    core.onClosed(now(), h);
    expect(ops()).toBe(abi.EV_WRITE_DONE.toString() + "," + abi.EV_CLOSED.toString());
    expect(tapped[0].a).toBe(abi.ECANCELED);
    tap(false);
  });
});

describe("reading", () => {
  it("reads only when the consumer wants data", () => {
    let h = open();
    tap(true);
    core.apiRead(now(), h, 0);
    expect(ops()).toBe(abi.CMD_READ_START.toString());
    tap(true);
    core.apiPause(now(), h);
    expect(ops()).toBe(abi.CMD_READ_STOP.toString());
    tap(false);
  });

  it("bytes that arrive while paused wait, then come out in order before EOF", () => {
    let h = open();
    putString("ab");
    core.onData(now(), h, 2);
    putString("cd");
    core.onData(now(), h, 2);
    core.onEof(now(), h);
    tap(true);
    core.apiRead(now(), h, 0);
    expect(tapped[0].op).toBe(abi.EV_DATA);
    expect(tapped[0].data).toBe("abcd");
    expect(tapped[1].op).toBe(abi.EV_EOF);
    expect(core.bytesRead(h)).toBe(4);
    tap(false);
  });

  it("onread (apiRead with max): one DATA of at most max bytes per pull, the rest kept in order, EOF on the pull that finds nothing", () => {
    let h = open();
    core.apiRead(now(), h, 3);
    tap(true);
    putString("abcdefgh");
    core.onData(now(), h, 8);
    expect(ops()).toBe(abi.EV_DATA.toString());
    expect(tapped[0].data).toBe("abc");
    expect(core.readQueueSize(h)).toBe(5);
    tap(true);
    core.apiRead(now(), h, 3);
    expect(ops()).toBe(abi.EV_DATA.toString());
    expect(tapped[0].data).toBe("def");
    // The consumer stops after that bufferful: nothing more comes until it asks again.
    core.apiPause(now(), h);
    core.onEof(now(), h);
    tap(true);
    core.apiRead(now(), h, 4);
    expect(ops()).toBe(abi.EV_DATA.toString());
    expect(tapped[0].data).toBe("gh");
    expect(core.readQueueSize(h)).toBe(0);
    tap(true);
    core.apiRead(now(), h, 4);
    expect(ops()).toBe(abi.EV_EOF.toString());
    expect(core.bytesRead(h)).toBe(8);
    tap(false);
  });

  it("onread: each pull fills the consumer's buffer across the queue's slabs, in order, and bytesRead counts only what was handed over", () => {
    let h = open();
    core.apiRead(now(), h, 5000);
    for (let i = 0; i < 40000; i++) store<u8>(scratch + i, 97 + i % 26);
    tap(true);
    core.onData(now(), h, 40000);
    expect(tapped.length).toBe(1);
    expect(tapped[0].data.length).toBe(5000);
    // Node reads into the consumer's buffer: the 35,000 bytes waiting here are not read yet.
    expect(core.bytesRead(h)).toBe(5000);
    let off = 5000;
    for (let pull = 0; pull < 7; pull++) {
      tap(true);
      core.apiRead(now(), h, 5000);
      expect(tapped[0].op).toBe(abi.EV_DATA);
      let d = tapped[0].data;
      expect(d.length).toBe(5000); // pull 3 spans the first 16 KiB slab's end
      let same = true;
      for (let i = 0; i < d.length; i++) if (d.charCodeAt(i) != 97 + (off + i) % 26) same = false;
      expect(same).toBe(true);
      off += 5000;
      expect(core.bytesRead(h)).toBe(off);
    }
    expect(core.readQueueSize(h)).toBe(0);
    tap(false);
  });

  it("a transport that ignores READ_STOP cannot grow the buffer past its bound", () => {
    let h = open();
    let r = 0;
    for (let i = 0; i < 40 && r == 0; i++) r = core.onData(now(), h, 65536);
    expect(r).toBe(abi.ENOBUFS);
  });
});

describe("idle timeout", () => {
  it("fires after the idle time, once, and is pushed back by activity", () => {
    let h = open();
    let start = t;
    core.apiSetTimeout(now(), h, 100);
    tap(true);
    core.onTimer(at(start + 50));
    expect(has(abi.EV_TIMEOUT)).toBe(false);
    putString("x");
    t = start + 60;
    core.onData(t, h, 1); // activity: deadline moves to start + 160
    tap(true);
    core.onTimer(at(start + 120));
    expect(has(abi.EV_TIMEOUT)).toBe(false);
    tap(true);
    core.onTimer(at(start + 170));
    expect(has(abi.EV_TIMEOUT)).toBe(true);
    tap(true);
    core.onTimer(at(start + 400));
    expect(has(abi.EV_TIMEOUT)).toBe(false); // does not repeat without activity
    t = start + 400;
    tap(false);
  });

  it("runs while connecting and setTimeout(0) disables it", () => {
    let h = connecting();
    core.apiSetTimeout(now(), h, 10);
    tap(true);
    core.onTimer(at(t + 20));
    expect(has(abi.EV_TIMEOUT)).toBe(true);
    core.apiSetTimeout(now(), h, 10);
    core.apiSetTimeout(now(), h, 0);
    tap(true);
    core.onTimer(at(t + 100));
    expect(has(abi.EV_TIMEOUT)).toBe(false);
    t += 100;
    tap(false);
  });

  it("moving the timeout earlier takes effect", () => {
    let h = open();
    core.apiSetTimeout(now(), h, 10000);
    core.apiSetTimeout(now(), h, 10);
    tap(true);
    core.onTimer(at(t + 20));
    expect(has(abi.EV_TIMEOUT)).toBe(true);
    t += 20;
    tap(false);
  });
});

function dataOf(op: u32): string {
  for (let i = 0; i < tapped.length; i++) if (tapped[i].op == op) return tapped[i].data;
  return "";
}

describe("batching", () => {
  it("the first write of a turn leaves at once and asks for FLUSH_LATER; later small ones wait for apiFlush, complete at once", () => {
    core.apiFlush(now());
    let h = open();
    tap(true);
    putString("ab");
    expect(core.apiWrite(now(), h, 2, true)).toBe(2);
    expect(ops()).toBe(abi.EV_FLUSH_LATER.toString() + "," + abi.CMD_WRITE.toString());
    core.onWritten(now(), h, 2, 1048576.0); // the kernel took it at once
    tap(true);
    putString("cd");
    expect(core.apiWrite(now(), h, 2, true)).toBe(2);
    putString("ef");
    expect(core.apiWrite(now(), h, 2, true)).toBe(2);
    // Complete as the kernel's try-write would complete them; nothing sent yet.
    expect(ops()).toBe(abi.EV_WRITE_DONE.toString() + "," + abi.EV_WRITE_DONE.toString());
    tap(true);
    core.apiFlush(now());
    expect(ops()).toBe(abi.CMD_WRITE.toString());
    expect(dataOf(abi.CMD_WRITE)).toBe("cdef");
    tap(true);
    putString("gh"); // a new turn: at once again
    core.apiWrite(now(), h, 2, true);
    expect(ops()).toBe(abi.EV_FLUSH_LATER.toString() + "," + abi.CMD_WRITE.toString());
    tap(false);
    core.apiFlush(now());
  });

  it("a write that would overflow the turn's batch (64 KiB) sends the batch and starts the next one", () => {
    core.apiFlush(now());
    let h = open();
    memory.fill(scratch, 0x61, 8192);
    expect(core.apiWrite(now(), h, 8192, true)).toBe(8192); // leaves at once
    core.onWritten(now(), h, 8192, 1048576.0);
    for (let i = 0; i < 8; i++) {
      memory.fill(scratch, <u8>(0x62 + i), 8192);
      expect(core.apiWrite(now(), h, 8192, true)).toBe(8192); // batched: 64 KiB in all
    }
    tap(true);
    memory.fill(scratch, 0x6a, 8192);
    expect(core.apiWrite(now(), h, 8192, true)).toBe(8192); // taken, not refused
    expect(ops()).toBe(abi.CMD_WRITE.toString() + "," + abi.EV_WRITE_DONE.toString());
    let w = tapped[0];
    expect(w.data.length).toBe(65536);
    expect(w.data.charCodeAt(0)).toBe(0x62);
    expect(w.data.charCodeAt(65535)).toBe(0x69);
    expect(has(abi.EV_WRITABLE)).toBe(false);
    tap(true);
    core.onWritten(now(), h, 65536, 1048576.0);
    expect(ops()).toBe(""); // the new batch waits for the end of the turn
    core.apiFlush(now()); // the next batch: the write that overflowed the first
    expect(ops()).toBe(abi.CMD_WRITE.toString());
    expect(dataOf(abi.CMD_WRITE).length).toBe(8192);
    expect(dataOf(abi.CMD_WRITE).charCodeAt(0)).toBe(0x6a);
    tap(false);
  });

  it("a write over 8 KiB in a turn that wrote already leaves at once, from the caller's bytes (not batched); over TCP with apiBatching(16 KiB, …) over 16 KiB", () => {
    for (let round = 0; round < 3; round++) {
      // 0: TCP, the core's own batching; 1: a Unix socket, with TCP's raised; 2: TCP, raised.
      if (round > 0) expect(core.apiBatching(now(), 16384, 262144)).toBe(0);
      core.apiFlush(now());
      let h = round == 1 ? openIpc() : open();
      let big: u32 = round == 2 ? 16385 : 8193;
      memory.fill(scratch, 0x61, 8192);
      expect(core.apiWrite(now(), h, 8192, true)).toBe(8192); // the turn's first: at once
      core.onWritten(now(), h, 8192, 1048576.0);
      tap(true);
      memory.fill(scratch, 0x62, big);
      expect(core.apiWrite(now(), h, big, true)).toBe(<i32>big);
      expect(ops()).toBe(abi.CMD_WRITE.toString()); // not batched: its own WRITE, pointing at scratch
      expect(dataOf(abi.CMD_WRITE).length).toBe(<i32>big);
      tap(false);
      core.onWritten(now(), h, big, 1048576.0);
      core.apiFlush(now());
    }
    core.apiBatching(now(), 8192, 65536);
  });

  it("apiBatching(16 KiB, 256 KiB): a turn's 16 KiB TCP writes are batched up to 256 KiB, whether the host gathers or not; a Unix socket's are not; EINVAL past 256 KiB", () => {
    expect(core.apiBatching(now(), 16384, 262145)).toBe(abi.EINVAL);
    expect(core.apiBatching(now(), 65536, 16384)).toBe(abi.EINVAL);
    expect(core.apiBatching(now(), -1, 16384)).toBe(abi.EINVAL);
    expect(core.apiBatching(now(), 16384, 262144)).toBe(0);
    for (let gather = 0; gather < 2; gather++) {
      core.hostFeatures(gather == 1 ? abi.FEATURE_GATHER : 0);
      core.apiFlush(now());
      let h = open();
      memory.fill(scratch, 0x61, 16384);
      expect(core.apiWrite(now(), h, 16384, true)).toBe(16384); // the turn's first: at once
      core.onWritten(now(), h, 16384, 1048576.0);
      let cap: i32 = 262144;
      tap(true);
      for (let i = 0; i < cap / 16384; i++) {
        memory.fill(scratch, <u8>(0x62 + i), 16384);
        expect(core.apiWrite(now(), h, 16384, true)).toBe(16384);
      }
      // Every one complete at once, none sent yet.
      expect(ops().split(",").length).toBe(cap / 16384);
      expect(has(abi.CMD_WRITE)).toBe(false);
      tap(true);
      memory.fill(scratch, 0x7f, 16384);
      expect(core.apiWrite(now(), h, 16384, true)).toBe(16384); // overflows: the batch leaves now
      expect(has(abi.CMD_WRITE)).toBe(true);
      if (gather == 0) expect(dataOf(abi.CMD_WRITE).length).toBe(cap); // gathered by the core: the same WRITE
      tap(false);
      expect(core.writeQueueSize(h)).toBe(16384); // the next batch
      core.onWritten(now(), h, <f64>cap, 1048576.0);
      core.apiFlush(now());
    }
    core.hostFeatures(abi.FEATURE_GATHER);
    core.apiFlush(now());
    let u = openIpc();
    memory.fill(scratch, 0x61, 16384);
    expect(core.apiWrite(now(), u, 16384, true)).toBe(16384);
    core.onWritten(now(), u, 16384, 1048576.0);
    tap(true);
    expect(core.apiWrite(now(), u, 16384, true)).toBe(16384);
    expect(ops()).toBe(abi.CMD_WRITE.toString()); // its own WRITE
    tap(false);
    core.hostFeatures(0);
    core.apiFlush(now());
    core.apiBatching(now(), 8192, 65536);
  });

  it("a write larger than scratch: EINVAL unless the host has FILL_AT; with it, up to WRITE_LIMIT, as far as credit and queue go", () => {
    let h = open(1048576.0);
    expect(core.apiWrite(now(), h, 262145, true)).toBe(-abi.EINVAL);
    core.hostFeatures(abi.FEATURE_FILL_AT);
    expect(core.apiWrite(now(), h, abi.WRITE_LIMIT + 1, true)).toBe(-abi.EINVAL);
    // 1 MiB of credit: a 1 MiB + 100 write sends 1 MiB in one WRITE and queues 100 bytes.
    expect(core.apiWrite(now(), h, 1048676, true)).toBe(1048676);
    expect(core.writeQueueSize(h)).toBe(100);
    core.hostFeatures(0);
    core.apiFlush(now());
  });

  it("with FEATURE_GATHER a WRITE spanning slabs is a table of runs (b = 1); contiguous ones stay plain", () => {
    core.hostFeatures(abi.FEATURE_GATHER);
    core.apiFlush(now());
    let h = open(0); // no credit: the write is queued
    for (let i: u32 = 0; i < 40000; i++) store<u8>(scratch + i, <u8>(i * 7));
    expect(core.apiWrite(now(), h, 40000, true)).toBe(40000);
    tap(true);
    core.onWritten(now(), h, 0, 1048576.0);
    expect(ops()).toBe(abi.CMD_WRITE.toString());
    expect(tapped[0].b).toBe(1); // 40,000 bytes over three slabs: gathered by the host
    expect(core.writeQueueSize(h)).toBe(0);
    tap(false);
    let h2 = open(0);
    putString("abc");
    core.apiWrite(now(), h2, 3, true);
    tap(true);
    core.onWritten(now(), h2, 0, 1048576.0);
    expect(tapped[0].op).toBe(abi.CMD_WRITE);
    expect(tapped[0].b).toBe(0); // one run: the plain form
    expect(tapped[0].data).toBe("abc");
    tap(false);
    core.hostFeatures(0);
    core.apiFlush(now());
  });

  it("hashGathered hashes a table's runs as hashBytes hashes the same bytes in one run", () => {
    let table = heap.alloc(24);
    let whole = heap.alloc(1000);
    for (let i: u32 = 0; i < 1000; i++) store<u8>(scratch + i, <u8>(i * 13 + 5));
    memory.copy(whole, scratch, 1000);
    // Runs of 100, 37 and 863 bytes, at different places: together the 1,000 bytes in order.
    let a = heap.alloc(100), b = heap.alloc(37), c = heap.alloc(863);
    memory.copy(a, scratch, 100);
    memory.copy(b, scratch + 100, 37);
    memory.copy(c, scratch + 137, 863);
    store<u32>(table, <u32>a); store<u32>(table, 100, 4);
    store<u32>(table + 8, <u32>b); store<u32>(table + 8, 37, 4);
    store<u32>(table + 16, <u32>c); store<u32>(table + 16, 863, 4);
    expect(core.hashGathered(table, 24)).toBe(core.hashBytes(whole, 1000));
    store<u8>(c + 500, load<u8>(c + 500) ^ 1); // one bit differs
    expect(core.hashGathered(table, 24)).not.toBe(core.hashBytes(whole, 1000));
  });

  it("hashGathered equals hashBytes however the bytes are cut into runs", () => {
    // Runs shorter than a block, ending inside one, several in one block, exact blocks, and a
    // long one: the blocks split between runs are assembled, the rest hashed in place.
    const cuts: u32[][] = [[1], [31, 1], [1, 1, 1, 29, 33], [32, 32], [5, 70, 3, 64, 200, 1, 7],
      [40, 0, 24], [17, 17, 17, 17], [1000], [2, 998]];
    let table = heap.alloc(8 * 8);
    let whole = heap.alloc(1000);
    for (let i: u32 = 0; i < 1000; i++) store<u8>(whole + i, <u8>(i * 29 + 11));
    for (let k = 0; k < cuts.length; k++) {
      let runs = cuts[k];
      let at: u32 = 0;
      for (let r = 0; r < runs.length; r++) {
        // Each run in a place of its own, as slabs are.
        let run = heap.alloc(max<usize>(1, runs[r]));
        memory.copy(run, whole + at, runs[r]);
        store<u32>(table + 8 * r, <u32>run);
        store<u32>(table + 8 * r, runs[r], 4);
        at += runs[r];
      }
      expect(core.hashGathered(table, 8 * runs.length)).toBe(core.hashBytes(whole, at));
    }
  });

  it("no batch behind a write still pending: later writes complete in order, once confirmed", () => {
    core.apiFlush(now());
    let h = open(1);
    putString("abc");
    core.apiWrite(now(), h, 3, true); // 1 byte out, 2 queued, the request pending
    tap(true);
    putString("d");
    core.apiWrite(now(), h, 1, true);
    expect(has(abi.EV_WRITE_DONE)).toBe(false);
    tap(false);
    core.apiFlush(now());
  });

  it("no batch beyond the credit", () => {
    core.apiFlush(now());
    let h = open(3);
    putString("ab");
    core.apiWrite(now(), h, 2, true);
    core.onWritten(now(), h, 0, 1); // 2 bytes in flight, 1 byte of credit left
    tap(true);
    putString("cd");
    core.apiWrite(now(), h, 2, true);
    expect(has(abi.EV_WRITE_DONE)).toBe(false);
    tap(false);
    core.apiFlush(now());
  });

  it("destroy sends the batch of the turn before it closes", () => {
    core.apiFlush(now());
    let h = open();
    putString("ab");
    core.apiWrite(now(), h, 2, true);
    core.onWritten(now(), h, 2, 1048576.0);
    putString("cd");
    core.apiWrite(now(), h, 2, true);
    tap(true);
    core.apiDestroy(now(), h, 0);
    expect(ops()).toBe(abi.CMD_WRITE.toString() + "," + abi.CMD_CLOSE.toString());
    expect(dataOf(abi.CMD_WRITE)).toBe("cd");
    tap(false);
    core.apiFlush(now());
  });

  it("end() after a batch: FIN only once the batch left and was confirmed", () => {
    core.apiFlush(now());
    let h = open();
    putString("ab");
    core.apiWrite(now(), h, 2, true);
    core.onWritten(now(), h, 2, 1048576.0);
    putString("cd");
    core.apiWrite(now(), h, 2, true);
    tap(true);
    core.apiEnd(now(), h);
    expect(has(abi.CMD_SHUTDOWN)).toBe(false);
    tap(true);
    core.apiFlush(now());
    expect(ops()).toBe(abi.CMD_WRITE.toString());
    tap(true);
    core.onWritten(now(), h, 2, 1048576.0);
    expect(ops()).toBe(abi.CMD_SHUTDOWN.toString());
    tap(false);
  });
});

describe("resolved addresses", () => {
  it("each address is tried once, the families alternating, the first address's family first", () => {
    let h = resolving();
    // [6 ::1] [4 10.0.0.1] [6 ::1] [6 ::2] [4 10.0.0.2]
    let p: u32 = 0;
    store<u8>(scratch + p, 6); store<u8>(scratch + p + 1, 3); putString("::1", p + 2); p += 5;
    store<u8>(scratch + p, 4); store<u8>(scratch + p + 1, 8); putString("10.0.0.1", p + 2); p += 10;
    store<u8>(scratch + p, 6); store<u8>(scratch + p + 1, 3); putString("::1", p + 2); p += 5;
    store<u8>(scratch + p, 6); store<u8>(scratch + p + 1, 3); putString("::2", p + 2); p += 5;
    store<u8>(scratch + p, 4); store<u8>(scratch + p + 1, 8); putString("10.0.0.2", p + 2); p += 10;
    tap(true);
    expect(core.onResolved(now(), h, 5, p)).toBe(4);
    expect(tapped[0].op).toBe(abi.EV_CONNECT_ATTEMPT);
    expect(tapped[0].data).toBe("::1");
    let order = "";
    for (let k = 0; k < 3; k++) {
      tap(true);
      core.onTimer(at(t + 1000));
      for (let i = 0; i < tapped.length; i++) if (tapped[i].op == abi.EV_CONNECT_ATTEMPT) order += tapped[i].data + " ";
    }
    expect(order).toBe("10.0.0.1 ::2 10.0.0.2 ");
    tap(false);
  });

  it("a record list longer than its length is refused", () => {
    let h = resolving();
    store<u8>(scratch, 4); store<u8>(scratch + 1, 200);
    expect(core.onResolved(now(), h, 1, 10)).toBe(-abi.EINVAL);
  });
});

describe("socket options", () => {
  it("only a change reaches the transport; before the connection, at connect; never on IPC", () => {
    let h = connecting();
    tap(true);
    core.apiSetOption(now(), h, abi.OPT_NO_DELAY, 1, 0);
    expect(has(abi.CMD_SET_OPTION)).toBe(false);
    let a = putString("127.0.0.1");
    putString("127.0.0.1", a + 1);
    core.onConnect(now(), h, 0, 0, 1048576.0, 5000, 80, 4, a * 2 + 1);
    expect(has(abi.CMD_SET_OPTION)).toBe(true);
    tap(true);
    core.apiSetOption(now(), h, abi.OPT_NO_DELAY, 1, 0);
    core.apiSetOption(now(), h, abi.OPT_KEEP_ALIVE, 0, 5000);
    expect(has(abi.CMD_SET_OPTION)).toBe(false);
    core.apiSetOption(now(), h, abi.OPT_KEEP_ALIVE, 1, 5000);
    core.apiSetOption(now(), h, abi.OPT_KEEP_ALIVE, 1, 5000);
    core.apiSetOption(now(), h, abi.OPT_KEEP_ALIVE, 1, 6000);
    expect(ops()).toBe(abi.CMD_SET_OPTION.toString() + "," + abi.CMD_SET_OPTION.toString());
    tap(false);
  });

  it("a Unix socket gets no options", () => {
    let h = idle();
    let n = putString("/tmp/x.sock");
    core.apiConnect(now(), h, 1, 0, 0, n, 0, 0, 250);
    core.apiSetOption(now(), h, abi.OPT_NO_DELAY, 1, 0);
    tap(true);
    core.onConnect(now(), h, 0, 0, 1048576.0, 0, 0, 0, 1);
    expect(has(abi.CMD_SET_OPTION)).toBe(false);
    expect(core.socketFlags(h) & 4).toBe(4);
    tap(false);
  });
});

describe("closing", () => {
  it("CLOSED says whether it was destroyed with an error, and whether it had a transport", () => {
    let h = open();
    core.apiDestroy(now(), h, 2);
    tap(true);
    core.onClosed(now(), h);
    expect(tapped[tapped.length - 1].op).toBe(abi.EV_CLOSED);
    expect(tapped[tapped.length - 1].a).toBe(1);
    expect(tapped[tapped.length - 1].b).toBe(0);
    let i = idle();
    tap(true);
    core.apiDestroy(now(), i, 0);
    expect(tapped[0].op).toBe(abi.EV_CLOSED);
    expect(tapped[0].a).toBe(0);
    expect(tapped[0].b).toBe(1);
    tap(false);
  });
});

describe("listening", () => {
  test("listen on no descriptor at all (fd -1): LISTEN_ERROR EINVAL, no LISTEN for the transport", () => {
    tap(true);
    let l = core.apiListen(now(), -1, 511, abi.LISTEN_FD, 0, 0, 0);
    expect(has(abi.CMD_LISTEN)).toBe(false);
    expect(tapped.length).toBe(1);
    expect(tapped[0].op).toBe(abi.EV_LISTEN_ERROR);
    expect(tapped[0].h).toBe(l);
    expect(tapped[0].a).toBe(<f64>abi.EINVAL);
    expect(tapped[0].b).toBe(<f64>abi.SYS_LISTEN);
    // A descriptor is the transport's to try.
    tap(true);
    core.apiListen(now(), 3, 511, abi.LISTEN_FD, 0, 0, 0);
    expect(has(abi.CMD_LISTEN)).toBe(true);
    tap(false);
  });
});
