// The stack's policy: which addresses, ports, IPC paths and descriptors a socket may use.
//
// The host hands the rules over once per core instance as one binary table (apiPolicy); the
// host only parses and normalises the user's strings (docs/sandbox.md has the grammar), every
// decision is taken here, so a trace records it and a replay re-takes it. Without a table
// everything is allowed (the module's default stack); with one, what no rule allows is refused.
//
// Table layout (little-endian): [flags u8: bit 0 = fd allowed] then records
//   [list u8][kind u8][portLo u16][portHi u16][prefix u8][len u16][len bytes]
// list: LIST_CONNECT, LIST_LISTEN, LIST_IPC. kind: KIND_ANY ('*'), KIND_IP (an address as
// text, parsed here by the same code that reads the addresses checked against it),
// KIND_NAME (lower-case name), KIND_SUFFIX ('.example.com' for '*.example.com'), KIND_PATH (an
// IPC path prefix, normalised here as the paths checked against it are).
// `prefix` is the CIDR length in bits of the address as written (255: the whole address); an
// IPv4-mapped IPv6 rule matches as IPv4, with 96 bits less.
import { scratch } from "./emit";

export const LIST_CONNECT: u8 = 1;
export const LIST_LISTEN: u8 = 2;
export const LIST_IPC: u8 = 3;
export const KIND_ANY: u8 = 0;
export const KIND_NAME: u8 = 1;
export const KIND_SUFFIX: u8 = 2;
export const KIND_PATH: u8 = 3;
export const KIND_IP: u8 = 4;

class Rule {
  constructor(public list: u8, public kind: u8, public lo: i32, public hi: i32, public prefix: i32,
    public bytes: Uint8Array) {}
  ports(port: i32): bool { return port >= this.lo && port <= this.hi; }
  anyPort(): bool { return this.lo == 0 && this.hi >= 65535; }
}

let active = false;
let fdAllowed = true;
let rules: Rule[] = [];
/** Refusals so far (usage()). */
export let refusals: f64 = 0;

/** Whether a policy is in force (apiPolicy was given one). */
export function enforced(): bool { return active; }

/** Reads a table of `len` bytes from scratch. EINVAL (and no policy change) for a malformed one. */
export function setTable(len: u32): bool {
  if (len < 1) return false;
  let parsed: Rule[] = [];
  let p: u32 = 1;
  while (p < len) {
    if (p + 9 > len) return false;
    let at = scratch + p;
    let list = load<u8>(at);
    let kind = load<u8>(at, 1);
    let lo = <i32>load<u16>(at, 2);
    let hi = <i32>load<u16>(at, 4);
    let prefix = <i32>load<u8>(at, 6);
    let n = <u32>load<u16>(at, 7);
    if (p + 9 + n > len || list < LIST_CONNECT || list > LIST_IPC) return false;
    if (kind > KIND_IP || lo > hi) return false;
    let b = new Uint8Array(n);
    memory.copy(b.dataStart, at + 9, n);
    if (kind == KIND_IP) {
      let text = b.buffer;
      let ip = parseIp(text);
      if (ip === null) return false;
      let written = isV6Text(b) ? 128 : 32;
      if (prefix == 255) prefix = written;
      if (prefix > written) return false;
      if (written == 128 && ip.length == 4) prefix = max(prefix - 96, 0); // ::ffff:a.b.c.d/n
      b = ip;
    } else if (kind == KIND_PATH) {
      b = normalisePath(b.buffer);
    }
    parsed.push(new Rule(list, kind, lo, hi, prefix, b));
    p += 9 + n;
  }
  rules = parsed;
  fdAllowed = (load<u8>(scratch) & 1) != 0;
  active = true;
  return true;
}

export function refused(): void { refusals++; }

// ---------------------------------------------------------------- decisions

/**
 * May a socket connect to (list LIST_CONNECT) or listen on (LIST_LISTEN) `text`:`port`?
 * On the path of every connect: no allocation (the address is parsed into a static buffer).
 */
export function allowHost(list: u8, text: ArrayBuffer, port: i32, wantAnyPort: bool = false): bool {
  if (!active) return true;
  let ptr = changetype<usize>(text);
  let len = text.byteLength;
  let ipLen = parseIpInto(ptr, len);
  // A connect to the unspecified address (0.0.0.0, ::) reaches loopback on Linux and macOS:
  // it is checked as loopback, or a rule for '0.0.0.0' would open 127.0.0.1.
  if (list == LIST_CONNECT && ipLen > 0 && unspecified(ipLen)) {
    IP[ipLen - 1] = 1;
    if (ipLen == 4) IP[0] = 127;
  }
  let nameLen = len;
  if (nameLen > 0 && load<u8>(ptr + nameLen - 1) == 0x2e) nameLen--; // 'example.com.'
  for (let i = 0; i < rules.length; i++) {
    let r = rules[i];
    if (r.list != list) continue;
    if (wantAnyPort ? !r.anyPort() : !r.ports(port)) continue;
    if (r.kind == KIND_ANY) return true;
    if (ipLen > 0) {
      if (r.kind == KIND_IP && r.bytes.length == ipLen && prefixMatch(r.bytes, r.prefix)) return true;
    } else if (r.kind == KIND_NAME) {
      if (r.bytes.length == nameLen && sameLower(r.bytes, 0, ptr, nameLen)) return true;
    } else if (r.kind == KIND_SUFFIX) {
      let n = r.bytes.length;
      if (nameLen > n && sameLower(r.bytes, 0, ptr + nameLen - n, n)) return true;
    }
  }
  return false;
}

/** May a socket connect to or listen on the IPC path `text`? */
export function allowPath(text: ArrayBuffer): bool {
  if (!active) return true;
  let path = normalisePath(text);
  for (let i = 0; i < rules.length; i++) {
    let r = rules[i];
    if (r.list != LIST_IPC || r.kind != KIND_PATH) continue;
    if (pathUnder(path, r.bytes)) return true;
  }
  return false;
}

/** May a socket or server adopt a file descriptor or a handle? */
export function allowFd(): bool { return !active || fdAllowed; }

/**
 * A path is under a rule when it is the rule itself, or the rule ends with '/' (or is an abstract
 * name, which has no directories) and the path starts with it, or the path continues the rule
 * with '/': '/run/p7' allows '/run/p7/s' but never '/run/p70'.
 */
function pathUnder(path: Uint8Array, rule: Uint8Array): bool {
  let n = rule.length;
  if (path.length < n) return false;
  for (let i = 0; i < n; i++) if (path[i] != rule[i]) return false;
  if (path.length == n) return true;
  if (n > 0 && (rule[n - 1] == 0x2f || rule[0] == 0)) return true;
  return path[n] == 0x2f;
}

/**
 * Lexical normalisation of an IPC path, as the host does for rules: '.' and empty components
 * go, '..' takes the previous component (never above the root). Abstract names (leading NUL)
 * and Windows pipe names ('\\') are taken as they are.
 */
export function normalisePath(text: ArrayBuffer): Uint8Array {
  let src = Uint8Array.wrap(text);
  if (src.length == 0 || src[0] == 0 || src[0] == 0x5c) return src;
  let abs = src[0] == 0x2f;
  let parts: Uint8Array[] = [];
  let i = 0;
  while (i <= src.length) {
    let j = i;
    while (j < src.length && src[j] != 0x2f) j++;
    let len = j - i;
    if (len == 0 || (len == 1 && src[i] == 0x2e)) {
      // '.' or an empty component: nothing
    } else if (len == 2 && src[i] == 0x2e && src[i + 1] == 0x2e) {
      if (parts.length > 0 && !isDotDot(parts[parts.length - 1])) parts.pop();
      else if (!abs) parts.push(src.subarray(i, j));
    } else {
      parts.push(src.subarray(i, j));
    }
    i = j + 1;
  }
  let total = abs ? 1 : 0;
  for (let k = 0; k < parts.length; k++) total += parts[k].length + (k > 0 ? 1 : 0);
  if (!abs && total == 0) total = 1; // '.'
  let out = new Uint8Array(total);
  let o = 0;
  if (abs) out[o++] = 0x2f;
  for (let k = 0; k < parts.length; k++) {
    if (k > 0) out[o++] = 0x2f;
    out.set(parts[k], o);
    o += parts[k].length;
  }
  if (o == 0) out[0] = 0x2e;
  return out;
}

/** The normalised path as a buffer of its own (what the transport is given). */
export function pathBuffer(text: ArrayBuffer): ArrayBuffer {
  let p = normalisePath(text);
  let b = new ArrayBuffer(p.length);
  memory.copy(changetype<usize>(b), p.dataStart, p.length);
  return b;
}

function isV6Text(b: Uint8Array): bool {
  for (let i = 0; i < b.length; i++) if (b[i] == 0x3a) return true;
  return false;
}

function isDotDot(p: Uint8Array): bool { return p.length == 2 && p[0] == 0x2e && p[1] == 0x2e; }

// ---------------------------------------------------------------- helpers

/** The address parseIpInto read last (4 or 16 bytes used). */
const IP = new StaticArray<u8>(16);

function unspecified(n: i32): bool {
  for (let i = 0; i < n; i++) if (IP[i] != 0) return false;
  return true;
}

/** Whether the first `bits` bits of the rule's address and IP agree. */
function prefixMatch(rule: Uint8Array, bits: i32): bool {
  let full = bits >> 3;
  for (let i = 0; i < full; i++) if (rule[i] != IP[i]) return false;
  let rest = bits & 7;
  if (rest == 0) return true;
  let mask = <u8>(<i32>0xff << (8 - rest));
  return (rule[full] & mask) == (IP[full] & mask);
}

/** Whether `n` bytes at `ptr`, in lower case, equal rule[from..from+n). */
function sameLower(rule: Uint8Array, from: i32, ptr: usize, n: i32): bool {
  for (let i = 0; i < n; i++) {
    let c = load<u8>(ptr + i);
    if (c >= 0x41 && c <= 0x5a) c += 32;
    if (c != rule[from + i]) return false;
  }
  return true;
}

/**
 * The bytes of an IP address in text, as a new array: 4 for IPv4 (and for IPv4-mapped IPv6,
 * which matches as IPv4), 16 for IPv6 (a zone '%eth0' is ignored); null when it is no address.
 */
export function parseIp(text: ArrayBuffer): Uint8Array | null {
  let n = parseIpInto(changetype<usize>(text), text.byteLength);
  if (n == 0) return null;
  let out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = IP[i];
  return out;
}

/** parseIp into IP; returns 4, 16, or 0 for no address. */
export function parseIpInto(ptr: usize, len: i32): i32 {
  let n = len;
  for (let i = 0; i < len; i++) if (load<u8>(ptr + i) == 0x25) { n = i; break; } // '%zone'
  if (parseV4(ptr, 0, n, 0)) return 4;
  if (!parseV6(ptr, n)) return 0;
  // ::ffff:a.b.c.d
  for (let i = 0; i < 10; i++) if (IP[i] != 0) return 16;
  if (IP[10] != 0xff || IP[11] != 0xff) return 16;
  for (let i = 0; i < 4; i++) IP[i] = IP[12 + i];
  return 4;
}

/** Dotted IPv4 in [from, to) into IP[at..at+4). */
function parseV4(ptr: usize, from: i32, to: i32, at: i32): bool {
  let part = 0;
  let val = 0;
  let digits = 0;
  for (let i = from; i <= to; i++) {
    if (i == to || load<u8>(ptr + i) == 0x2e) {
      if (digits == 0 || part > 3) return false;
      IP[at + part++] = <u8>val;
      val = 0;
      digits = 0;
      continue;
    }
    let c = <i32>load<u8>(ptr + i);
    if (c < 0x30 || c > 0x39) return false;
    if (digits > 0 && val == 0) return false; // no leading zeros (Node's isIPv4 refuses them)
    val = val * 10 + (c - 0x30);
    digits++;
    if (val > 255) return false;
  }
  return part == 4;
}

function hexVal(c: u8): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** IPv6 text of `n` bytes into IP[0..16). */
function parseV6(ptr: usize, n: i32): bool {
  for (let k = 0; k < 16; k++) IP[k] = 0;
  let groups = 0;     // 16-bit groups written
  let gap = -1;       // where '::' was, in groups
  let i = 0;
  if (n < 2) return false;
  if (load<u8>(ptr) == 0x3a) {
    if (load<u8>(ptr + 1) != 0x3a) return false;
    gap = 0;
    i = 2;
    if (i == n) return true; // '::'
  }
  while (i < n) {
    if (groups >= 8) return false;
    // An IPv4 tail: the rest has a '.' before any ':'.
    let j = i;
    let dotted = false;
    while (j < n && load<u8>(ptr + j) != 0x3a) { if (load<u8>(ptr + j) == 0x2e) dotted = true; j++; }
    if (dotted) {
      if (j != n || groups > 6) return false;
      if (!parseV4(ptr, i, n, groups * 2)) return false;
      groups += 2;
      break;
    }
    let len = j - i;
    if (len < 1 || len > 4) return false;
    let v = 0;
    for (let k = i; k < j; k++) {
      let h = hexVal(load<u8>(ptr + k));
      if (h < 0) return false;
      v = (v << 4) | h;
    }
    IP[groups * 2] = <u8>(v >> 8);
    IP[groups * 2 + 1] = <u8>v;
    groups++;
    i = j;
    if (i == n) break;
    // at a ':'
    if (i + 1 < n && load<u8>(ptr + i + 1) == 0x3a) {
      if (gap >= 0) return false;
      gap = groups;
      i += 2;
      if (i == n) break;
    } else {
      i++;
      if (i == n) return false; // a trailing single ':'
    }
  }
  if (gap < 0) return groups == 8;
  if (groups >= 8) return false;
  // Move the groups after the gap to the end.
  let tail = groups - gap;
  let shift = 8 - groups;
  for (let k = tail - 1; k >= 0; k--) {
    let from = (gap + k) * 2;
    let to = (gap + k + shift) * 2;
    IP[to] = IP[from];
    IP[to + 1] = IP[from + 1];
  }
  for (let k = 0; k < shift; k++) { IP[(gap + k) * 2] = 0; IP[(gap + k) * 2 + 1] = 0; }
  return true;
}
