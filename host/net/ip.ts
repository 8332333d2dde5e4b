// net.isIP / isIPv4 / isIPv6, answering exactly as node:net does (a fuzz test compares them):
// dotted quads without leading zeros; IPv6 with at most one "::", an optional embedded IPv4
// tail and an optional zone id (%eth0); non-strings are converted with String(), as Node's
// RegExp test does (a Symbol throws).

function toStr(input: unknown): string {
  return typeof input === 'string' ? input : `${input as string}`;
}

/** Four decimal octets joined by dots (a scan: no parts made, it runs on every connect). */
function v4(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let i = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || s.charCodeAt(i) !== 46) return false;
      i++;
    }
    const start = i;
    let value = 0;
    while (i < n && i - start < 4) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      value = value * 10 + (c - 48);
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || value > 255 || (len > 1 && s.charCodeAt(start) === 48)) return false;
  }
  return i === n;
}

function isHexGroup(p: string): boolean {
  if (p.length === 0 || p.length > 4) return false;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

/** Counts 16-bit groups in colon-separated parts; the last part may be a dotted quad. -1 if invalid. */
function groups(parts: string[], allowV4Tail: boolean): number {
  let n = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (isHexGroup(p)) n += 1;
    else if (allowV4Tail && i === parts.length - 1 && v4(p)) n += 2;
    else return -1;
  }
  return n;
}

const ZONE = /^[0-9a-zA-Z.:-]+$/;

function v6(s: string): boolean {
  let addr = s;
  const pct = s.indexOf('%');
  if (pct !== -1) {
    if (!ZONE.test(s.slice(pct + 1))) return false;
    addr = s.slice(0, pct);
  }
  const gap = addr.indexOf('::');
  if (gap === -1) return groups(addr.split(':'), true) === 8;
  if (addr.indexOf('::', gap + 1) !== -1) return false;
  const head = addr.slice(0, gap);
  const tail = addr.slice(gap + 2);
  const h = head === '' ? 0 : groups(head.split(':'), false);
  const t = tail === '' ? 0 : groups(tail.split(':'), true);
  return h >= 0 && t >= 0 && h + t <= 7;
}

export function isIPv4(input: unknown): boolean {
  return v4(toStr(input));
}

export function isIPv6(input: unknown): boolean {
  return v6(toStr(input));
}

export function isIP(input: unknown): 0 | 4 | 6 {
  const s = toStr(input);
  if (v4(s)) return 4;
  if (v6(s)) return 6;
  return 0;
}
