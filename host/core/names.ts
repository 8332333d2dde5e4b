// Names that cross the boundary as bytes (`first NUL second` in an output's data: a CONNECT's
// address and local address, a CONNECTED's or CONNECTION's local and remote address), made
// strings again on every runtime.
//
// A connection's names are nearly always ones seen before (every socket of a server has the
// same local address, and a client connects to the same few peers), and Buffer's toString is a
// call into C++ that costs about 1 µs here, four times per connection. So short ASCII names come
// from a small cache, checked byte by byte in JavaScript: the same string object for the same
// bytes (so a server's thousands of sockets share their names), and no call out. Anything else (longer, or not ASCII: a Unix path may be any bytes) is
// decoded as UTF-8 with replacement characters, as Buffer's toString('utf8') decodes it.

const SLOTS = 128;
/** The longest name kept: an IPv6 address with a zone id and a port, and any Unix socket path (sun_path: 108 bytes). */
const LONGEST = 128;
const cache: string[] = new Array<string>(SLOTS).fill('');
const utf8 = new TextDecoder();

/** The string of `b[start, end)`. */
export function nameOf(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > LONGEST) return utf8.decode(b.subarray(start, end));
  let hash = n;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c >= 0x80) return utf8.decode(b.subarray(start, end));
    hash = (Math.imul(hash, 31) + c) | 0;
  }
  const slot = (hash ^ (hash >>> 7)) & (SLOTS - 1);
  const known = cache[slot];
  if (known.length === n) {
    let i = 0;
    while (i < n && known.charCodeAt(i) === b[start + i]) i++;
    if (i === n) return known;
  }
  const s = String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
  cache[slot] = s;
  return s;
}

/** `first NUL second`, where only `first` may itself contain NUL (an abstract socket name). */
export function splitNames(data: Uint8Array | null): [string, string] {
  if (!data) return ['', ''];
  let i = data.length - 1;
  while (i >= 0 && data[i] !== 0) i--;
  return i < 0 ? [nameOf(data, 0, data.length), ''] : [nameOf(data, 0, i), nameOf(data, i + 1, data.length)];
}
