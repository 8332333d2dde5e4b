// The core's sandbox checks (assembly/policy.ts, assembly/limits.ts) through its own exports:
// address and path parsing, each rule form, and that a refusal emits an error and no command.
import * as core from "../../assembly/index";
import * as abi from "../../assembly/abi";
import { State } from "../../assembly/abi";
import { tap, tapped, scratch } from "../../assembly/emit";
import { parseIp, normalisePath } from "../../assembly/policy";
import { TARGET_IP4, TARGET_NAME, TARGET_IPC } from "../../assembly/socket";

let t: f64 = 1000;
function now(): f64 { t += 1; return t; }

function buf(s: string): ArrayBuffer { return String.UTF8.encode(s); }
function ipHex(s: string): string {
  let b = parseIp(buf(s));
  if (b === null) return "null";
  let out = "";
  for (let i = 0; i < b.length; i++) out += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return out;
}
function norm(s: string): string {
  let p = normalisePath(buf(s));
  return String.UTF8.decodeUnsafe(p.dataStart, p.length);
}

function has(op: u32): bool {
  for (let i = 0; i < tapped.length; i++) if (tapped[i].op == op) return true;
  return false;
}
function find(op: u32): i32 {
  for (let i = 0; i < tapped.length; i++) if (tapped[i].op == op) return i;
  return -1;
}

/** Builds a policy table in scratch: rules as (list, kind, lo, hi, prefix, text). */
class Table {
  at: u32 = 1;
  constructor(fd: bool) { store<u8>(scratch, fd ? 1 : 0); }
  rule(list: u8, kind: u8, lo: u16, hi: u16, prefix: u8, text: string): Table {
    let b = String.UTF8.encode(text);
    let p = scratch + this.at;
    store<u8>(p, list); store<u8>(p, kind, 1); store<u16>(p, lo, 2); store<u16>(p, hi, 4);
    store<u8>(p, prefix, 6); store<u16>(p, <u16>b.byteLength, 7);
    memory.copy(p + 9, changetype<usize>(b), b.byteLength);
    this.at += 9 + b.byteLength;
    return this;
  }
  apply(): i32 { return core.apiPolicy(now(), this.at); }
}

function put(s: string): u32 {
  let b = String.UTF8.encode(s);
  memory.copy(scratch, changetype<usize>(b), b.byteLength);
  store<u8>(scratch + b.byteLength, 0);
  return b.byteLength;
}

describe("parseIp", () => {
  test("IPv4, IPv6, mapped, zones, and what is no address", () => {
    expect(ipHex("127.0.0.1")).toBe("7f000001");
    expect(ipHex("::1")).toBe("00000000000000000000000000000001");
    expect(ipHex("::")).toBe("00000000000000000000000000000000");
    expect(ipHex("fe80::1%eth0")).toBe("fe800000000000000000000000000001");
    expect(ipHex("2001:db8::8:800:200c:417a")).toBe("20010db8000000000008080020 0c417a".replace(" ", ""));
    expect(ipHex("::ffff:10.1.2.3")).toBe("0a010203");
    expect(ipHex("::ffff:a01:203")).toBe("0a010203");
    expect(ipHex("1:2:3:4:5:6:7:8")).toBe("00010002000300040005000600070008");
    expect(ipHex("localhost")).toBe("null");
    expect(ipHex("1.2.3")).toBe("null");
    expect(ipHex("01.2.3.4")).toBe("null");
    expect(ipHex("256.1.1.1")).toBe("null");
    expect(ipHex(":::")).toBe("null");
    expect(ipHex("1::2::3")).toBe("null");
    expect(ipHex("1:2:3:4:5:6:7:8:9")).toBe("null");
    expect(ipHex("12345::")).toBe("null");
    expect(ipHex("")).toBe("null");
  });
});

describe("normalisePath", () => {
  test("'.', '..' and '//' go; never above the root; abstract names stay as they are", () => {
    expect(norm("/run//p7/./s.sock")).toBe("/run/p7/s.sock");
    expect(norm("/run/p7/../p8/s")).toBe("/run/p8/s");
    expect(norm("/../../etc")).toBe("/etc");
    expect(norm("/run/p7/")).toBe("/run/p7");
    expect(norm("a/../../b")).toBe("../b");
    expect(norm("./")).toBe(".");
    expect(norm("\0abs/../x")).toBe("\0abs/../x");
  });
});

describe("policy decisions", () => {
  test("a malformed table is EINVAL and changes nothing", () => {
    store<u8>(scratch, 0);
    store<u8>(scratch + 1, 9); // list 9
    expect(core.apiPolicy(now(), 10)).toBe(abi.EINVAL);
    let h = core.apiSocket(now());
    tap(true);
    core.apiConnect(now(), h, TARGET_IP4, 80, 0, put("1.2.3.4"), 0, 0, 250);
    expect(has(abi.CMD_CONNECT)).toBe(true, "still no policy: everything allowed");
    tap(false);
  });

  test("connect: a refused literal is a failed attempt with EACCES and no CONNECT", () => {
    new Table(false)
      .rule(1, 4, 80, 89, 8, "10.0.0.0")        // 10.0.0.0/8:80-89
      .rule(1, 4, 0, 65535, 255, "::1")        // [::1]:*
      .rule(1, 1, 5432, 5432, 0, "db.internal") // db.internal:5432
      .rule(1, 2, 443, 443, 0, ".example.com")  // *.example.com:443
      .rule(2, 4, 0, 65535, 255, "127.0.0.1")   // listen 127.0.0.1:*
      .rule(2, 4, 8000, 8099, 255, "::")        // listen [::]:8000-8099
      .rule(3, 3, 0, 0, 0, "/run/p7/")          // ipc
      .apply();
    let h = core.apiSocket(now());
    tap(true);
    core.apiConnect(now(), h, TARGET_IP4, 90, 0, put("10.1.2.3"), 0, 0, 250);
    expect(has(abi.CMD_CONNECT)).toBe(false);
    let e = find(abi.EV_ERROR);
    expect(e).toBeGreaterThan(-1);
    expect(tapped[e].a).toBe(<f64>abi.EACCES);
    expect(tapped[e].b).toBe(<f64>abi.SYS_CONNECT);
    expect(tapped[e].c).toBe(90.0);
    expect(has(abi.EV_CONNECT_ATTEMPT_FAILED)).toBe(true);
    expect(core.socketState(h)).toBe(<i32>State.Idle, "never wired: back to IDLE");
    tap(true);
    core.apiDestroy(now(), h, 0);
    expect(has(abi.CMD_CLOSE)).toBe(false, "no CLOSE for a socket the transport never knew");
    expect(has(abi.EV_CLOSED)).toBe(true);
    tap(false);
  });

  test("connect: the unspecified address is checked as loopback", () => {
    let h = core.apiSocket(now());
    tap(true);
    core.apiConnect(now(), h, TARGET_IP4, 85, 0, put("0.0.0.0"), 0, 0, 250);
    expect(has(abi.CMD_CONNECT)).toBe(false, "127.0.0.1 has no rule");
    let h6 = core.apiSocket(now());
    tap(true);
    core.apiConnect(now(), h6, 6, 85, 0, put("::"), 0, 0, 250);
    expect(has(abi.CMD_CONNECT)).toBe(true, "::1 is allowed by [::1]:*");
    tap(false);
  });

  test("connect: allowed forms emit CONNECT", () => {
    let cases = ["10.255.0.1", "::1", "::ffff:10.0.0.1"];
    for (let i = 0; i < cases.length; i++) {
      let h = core.apiSocket(now());
      tap(true);
      core.apiConnect(now(), h, cases[i].includes(":") ? 6 : 4, 85, 0, put(cases[i]), 0, 0, 250);
      expect(has(abi.CMD_CONNECT)).toBe(true, cases[i]);
      tap(false);
    }
  });

  test("names: allowed names resolve; others are refused before RESOLVE; addresses checked again", () => {
    let names = ["DB.Internal", "api.example.com", "a.b.example.com."];
    let ports = [5432, 443, 443];
    for (let i = 0; i < names.length; i++) {
      let h = core.apiSocket(now());
      tap(true);
      core.apiConnect(now(), h, TARGET_NAME, ports[i], 0, put(names[i]), 0, 0, 250);
      expect(has(abi.CMD_RESOLVE)).toBe(true, names[i]);
      tap(false);
    }
    let bad = ["example.com", "db.internal.evil", "xexample.com"];
    for (let i = 0; i < bad.length; i++) {
      let h = core.apiSocket(now());
      tap(true);
      core.apiConnect(now(), h, TARGET_NAME, 443, 0, put(bad[i]), 0, 0, 250);
      expect(has(abi.CMD_RESOLVE)).toBe(false, bad[i]);
      expect(has(abi.EV_ERROR)).toBe(true, bad[i]);
      tap(false);
    }
    // db.internal resolves to 127.0.0.1 (no rule) and 10.0.0.5 (port 5432 is not 80-89): both refused.
    let h = core.apiSocket(now());
    core.apiConnect(now(), h, TARGET_NAME, 5432, 0, put("db.internal"), 0, 0, 250);
    let a = String.UTF8.encode("127.0.0.1");
    let b = String.UTF8.encode("::1");
    store<u8>(scratch, 4); store<u8>(scratch, <u8>a.byteLength, 1);
    memory.copy(scratch + 2, changetype<usize>(a), a.byteLength);
    let p = 2 + a.byteLength;
    store<u8>(scratch + p, 6); store<u8>(scratch + p, <u8>b.byteLength, 1);
    memory.copy(scratch + p + 2, changetype<usize>(b), b.byteLength);
    tap(true);
    expect(core.onResolved(now(), h, 2, p + 2 + b.byteLength)).toBe(2);
    // 127.0.0.1 refused (a failed attempt), then ::1 allowed by [::1]:*.
    expect(tapped[0].op).toBe(abi.EV_CONNECT_ATTEMPT);
    expect(tapped[1].op).toBe(abi.EV_CONNECT_ATTEMPT_FAILED);
    expect(tapped[1].c).toBe(<f64>abi.EACCES);
    expect(find(abi.CMD_CONNECT)).toBeGreaterThan(1);
    tap(false);
  });

  test("listen: rules, port 0 only with an any-port rule, the picked port re-checked", () => {
    tap(true);
    let l = core.apiListen(now(), 8050, 511, 0, put("::"), 0, 0);
    expect(has(abi.CMD_LISTEN)).toBe(true);
    tap(true);
    core.apiListen(now(), 0, 511, 0, put("::"), 0, 0);
    expect(has(abi.CMD_LISTEN)).toBe(false, "port 0 needs [::]:*");
    expect(tapped[find(abi.EV_LISTEN_ERROR)].a).toBe(<f64>abi.EACCES);
    tap(true);
    let l2 = core.apiListen(now(), 0, 511, 0, put("127.0.0.1"), 0, 0);
    expect(has(abi.CMD_LISTEN)).toBe(true);
    tap(true);
    core.onListening(now(), l, 0, 0, 8050, 6, put("::"));
    expect(has(abi.EV_LISTENING)).toBe(true);
    tap(true);
    core.onListening(now(), l2, 0, 0, 40000, 4, put("127.0.0.1"));
    expect(has(abi.EV_LISTENING)).toBe(true, "127.0.0.1:* allows the picked port");
    // IPC and fd.
    tap(true);
    core.apiListen(now(), 0, 511, abi.LISTEN_IPC, put("/run/p7/../p8/s"), 0, 0);
    expect(has(abi.CMD_LISTEN)).toBe(false);
    tap(true);
    core.apiListen(now(), 0, 511, abi.LISTEN_IPC, put("/run/p7/s"), 0, 0);
    expect(has(abi.CMD_LISTEN)).toBe(true);
    tap(true);
    core.apiListen(now(), 3, 511, abi.LISTEN_FD, 0, 0, 0);
    expect(has(abi.CMD_LISTEN)).toBe(false, "fd: false");
    expect(tapped[find(abi.EV_LISTEN_ERROR)].a).toBe(<f64>abi.EACCES);
    tap(true);
    core.apiListen(now(), -1, 511, abi.LISTEN_FD, 0, 0, 0);
    expect(tapped[find(abi.EV_LISTEN_ERROR)].a).toBe(<f64>abi.EINVAL, "no descriptor: EINVAL before any rule");
    let h = core.apiSocket(now());
    expect(core.apiOpen(now(), h, 3, 0)).toBe(abi.EACCES);
    tap(false);
  });

  test("ipc connect: the normalised path is what the transport gets", () => {
    let h = core.apiSocket(now());
    tap(true);
    core.apiConnect(now(), h, TARGET_IPC, 0, 0, put("/run//p7/./s"), 0, 0, 250);
    let c = find(abi.CMD_CONNECT);
    expect(c).toBeGreaterThan(-1);
    expect(tapped[c].data).toBe("/run/p7/s\0");
    tap(false);
  });
});

describe("limits", () => {
  test("sockets: EMFILE beyond; received quota; dishonest transport past socketBuffer is ENOBUFS", () => {
    core.apiPolicy(now(), 1); // fd false and no rule: but a table of 1 byte with no rules...
    new Table(true).rule(1, 0, 0, 65535, 0, "").apply(); // connect *:*
    core.apiLimits(now(), <f64>(core.usage(0) + 1), -1, 1000, -1, -1, 1500, -1);
    let a = core.apiSocket(now());
    core.apiConnect(now(), a, TARGET_IP4, 80, 0, put("1.2.3.4"), 0, 0, 250);
    let b = core.apiSocket(now());
    tap(true);
    core.apiConnect(now(), b, TARGET_IP4, 80, 0, put("1.2.3.4"), 0, 0, 250);
    expect(has(abi.CMD_CONNECT)).toBe(false);
    expect(tapped[find(abi.EV_ERROR)].a).toBe(<f64>abi.EMFILE);
    tap(false);
    // a connects; its consumer does not read; the transport pushes past socketBuffer.
    let n = put("127.0.0.1");
    core.onConnect(now(), a, 0, 0, 1000, 5000, 80, 4, n);
    tap(true);
    expect(core.onData(now(), a, 800)).toBe(0);
    expect(core.onData(now(), a, 400)).toBe(abi.ENOBUFS);
    expect(tapped[find(abi.EV_ERROR)].a).toBe(<f64>abi.ENOBUFS);
    expect(core.usage(8)).toBeLessThanOrEqual(1000.0);
    tap(true);
    expect(core.onData(now(), a, 400)).toBe(abi.EDQUOT, "1600 > received 1500");
    expect(has(abi.EV_DATA)).toBe(false);
    tap(false);
    core.apiLimits(now(), -1, -1, -1, -1, -1, -1, -1);
  });
});
