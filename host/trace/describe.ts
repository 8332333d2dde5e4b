// What a recorded input means to a person: one line per input ("apiWrite h=5 3 B "ERR"") and the
// lanes of a recording — one per socket and listener, from the input that made its handle to the
// one that freed it — with a label ("client 127.0.0.1:50312 → 127.0.0.1:8080"). The divergence
// report of an application replay and the timeline page (timeline.ts) both read inputs this way.
import { inputHandle } from '../core/inputs.js';
import { errnoName } from '../core/errno.js';
import { SYSCALLS } from '../core/abi.js';

/** One input as the describer needs it (a trace's InputRecord, or a call being made now). */
export interface InputLike {
  name: string;
  args: ArrayLike<number>;
  payload: Uint8Array | null;
  result?: number;
}

/** Up to `max` bytes as text when they are printable, else as hex. */
export function preview(bytes: Uint8Array | null, max = 48): string {
  if (!bytes || bytes.length === 0) return '';
  const head = bytes.subarray(0, max);
  const more = bytes.length > max ? '…' : '';
  const printable = head.every((b) => (b >= 32 && b < 127) || b === 10 || b === 13 || b === 9);
  if (printable) return JSON.stringify(Buffer.from(head).toString('latin1')) + more;
  return Buffer.from(head).toString('hex') + more;
}

/** The NUL-separated strings of a payload (addresses, host names). */
function strings(p: Uint8Array | null): string[] {
  return p ? Buffer.from(p).toString('utf8').split('\0') : [];
}

/** onResolved's payload: [family, length, address bytes] per address. */
export function resolvedAddresses(p: Uint8Array | null): { address: string; family: number }[] {
  const out: { address: string; family: number }[] = [];
  if (!p) return out;
  for (let i = 0; i + 2 <= p.length;) {
    const family = p[i];
    const len = p[i + 1];
    out.push({ address: Buffer.from(p.subarray(i + 2, i + 2 + len)).toString('latin1'), family });
    i += 2 + len;
  }
  return out;
}

const err = (n: number, op?: number): string => `${errnoName(n)}${op !== undefined ? ` (${SYSCALLS[op & 0xff] ?? op})` : ''}`;

/** A short line: the input, its handle and what its arguments say. */
export function describeInput(x: InputLike): string {
  const a = x.args;
  const h = inputHandle(x.name, a, x.result ?? 0);
  const p = x.payload;
  const n = p ? p.length : 0;
  switch (x.name) {
    case 'apiConnect': {
      const [host, local] = strings(p);
      return `apiConnect h=${h} to ${host || '(path)'}${a[2] ? `:${a[2]}` : ''}${local ? ` from ${local}` : ''}`;
    }
    case 'apiWrite': return `apiWrite h=${h} ${n} B${a[2] ? ' (last)' : ''} ${preview(p)}`;
    case 'onData': return `onData h=${h} ${n} B ${preview(p)}`;
    case 'apiDestroy': return `apiDestroy h=${h}${a[1] & 1 ? ' reset' : ''}${a[1] & 2 ? ' with an error' : ''}`;
    case 'apiSetTimeout': return `apiSetTimeout h=${h} ${a[1]} ms`;
    case 'apiLocalName': return `apiLocalName h=${h} ${strings(p)[0]}:${a[1]}`;
    case 'apiPeerName': return `apiPeerName h=${h} ${strings(p)[0]}:${a[1]}`;
    case 'apiListen': return `apiListen ${strings(p)[0] || '(any)'}:${a[0]} → h=${x.result ?? '?'}`;
    case 'onConnect': {
      if (a[1] !== 0) return `onConnect h=${h} failed ${err(a[1], a[2])}`;
      const [local, remote] = strings(p);
      return `onConnect h=${h} ${local ? `${local}:${a[4]}` : '(local name on first use)'} → ${remote ? `${remote}:${a[5]}` : '(peer name on first use)'}`;
    }
    case 'onConnection': {
      const [local, remote] = strings(p);
      if (!remote && a[2] !== 0) return `onConnection on h=${a[0]} → h=${x.result ?? '?'} (names on first use)`;
      return `onConnection on h=${a[0]} from ${remote}:${Math.floor(a[3] / 65536)} → h=${x.result ?? '?'} (${local}:${a[3] % 65536})`;
    }
    case 'onListening': return a[1] === 0 ? `onListening h=${h} ${strings(p)[0]}:${a[3]}` : `onListening h=${h} failed ${err(a[1], a[2])}`;
    case 'onWritten': return `onWritten h=${h} ${a[1]} B flushed, credit ${a[2]}`;
    case 'onError': return `onError h=${h} ${err(a[1], a[2])}`;
    case 'onShutdown': return `onShutdown h=${h}${a[1] ? ` ${err(a[1])}` : ''}`;
    case 'onResolved': return `onResolved h=${h} ${resolvedAddresses(p).map((r) => r.address).join(', ') || '(none)'}`;
    case 'apiTimerSet': return `apiTimerSet #${a[0]} ${a[1]} ms`;
    case 'apiTimerClear': return `apiTimerClear #${a[0]}`;
    case 'apiBatching': return `apiBatching TCP writes up to ${a[0]} B, ${a[1]} B a batch`;
    case 'onTimer': case 'apiFlush': case 'apiSocket': return x.name + (x.result !== undefined && x.name === 'apiSocket' ? ` → h=${x.result}` : '');
    default: return `${x.name} h=${h}${a.length > 1 ? ` (${Array.from(a).slice(1).join(', ')})` : ''}`;
  }
}

/** A socket or listener over its life in a recording. */
export interface Lane {
  id: number;
  handle: number;
  kind: 'socket' | 'listener';
  label: string;
  /** Input positions (seq) from its first to its last. */
  first: number;
  last: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Follows a recording input by input and says which lane each input belongs to. Handles are
 * reused once freed, so a new lane starts whenever an input makes a handle (apiSocket,
 * apiListen, onConnection).
 */
export class Lanes {
  readonly lanes: Lane[] = [];
  readonly #current = new Map<number, Lane>();

  /** The lane of handle `h` now (null for inputs about no handle: timers, flushes). */
  of(h: number): Lane | null {
    return this.#current.get(h) ?? null;
  }

  #open(h: number, kind: Lane['kind'], label: string, seq: number): Lane {
    const lane: Lane = { id: this.lanes.length, handle: h, kind, label, first: seq, last: seq, bytesIn: 0, bytesOut: 0 };
    this.lanes.push(lane);
    this.#current.set(h, lane);
    return lane;
  }

  /** Places input `seq`; returns its lane. */
  add(seq: number, x: InputLike): Lane | null {
    const a = x.args;
    const r = x.result ?? 0;
    if ((x.name === 'apiSocket' || x.name === 'apiListen' || x.name === 'onConnection') && r <= 0) return null;
    if (x.name === 'apiSocket') return this.#open(r, 'socket', `socket h=${r}`, seq);
    if (x.name === 'apiListen') return this.#open(r, 'listener', `listener h=${r} ${strings(x.payload)[0] || ''}:${a[0]}`, seq);
    if (x.name === 'onConnection') {
      const [local, remote] = strings(x.payload);
      this.of(a[0]) && (this.of(a[0])!.last = seq);
      // Names left out (asked for on first use): the label gains the peer's at apiPeerName.
      return this.#open(r, 'socket', remote || a[2] === 0 ? `accepted h=${r} ${remote}:${Math.floor(a[3] / 65536)} → ${local}:${a[3] % 65536}` : `accepted h=${r} on listener h=${a[0]}`, seq);
    }
    const h = inputHandle(x.name, a, r);
    if (h <= 0) return null;
    const lane = this.of(h) ?? this.#open(h, 'socket', `h=${h}`, seq);
    lane.last = seq;
    const n = x.payload ? x.payload.length : 0;
    if (x.name === 'onData') lane.bytesIn += n;
    else if (x.name === 'apiWrite') lane.bytesOut += n;
    else if (x.name === 'apiConnect') {
      const [host] = strings(x.payload);
      lane.label = `client h=${h} → ${host || '(path)'}${a[2] ? `:${a[2]}` : ''}`;
    } else if (x.name === 'apiOpen' && a[2] === 2) {
      // A TLS session that took connection a[1] over (STARTTLS, a served TLS server's connection).
      lane.label = `TLS session h=${h} over h=${a[1]}`;
    } else if (x.name === 'onConnect' && a[1] === 0 && !lane.label.startsWith(`TLS session h=${h} `)) {
      const [local, remote] = strings(x.payload);
      // Left out (asked for on first use): the label gains the local name at apiLocalName, and
      // keeps the peer apiConnect named.
      const to = remote ? ` ${remote}:${a[5]}` : lane.label.slice(`client h=${h} →`.length);
      lane.label = local ? `client h=${h} ${local}:${a[4]} →${to}` : `client h=${h} →${to}`;
    } else if (x.name === 'apiPeerName' && x.result === 0 && lane.label.startsWith(`accepted h=${h} on `)) {
      lane.label = `accepted h=${h} ${strings(x.payload)[0]}:${a[1]}${lane.label.slice(`accepted h=${h}`.length)}`;
    } else if (x.name === 'apiLocalName' && x.result === 0 && lane.label.startsWith(`client h=${h} → `)) {
      lane.label = `client h=${h} ${strings(x.payload)[0]}:${a[1]} →${lane.label.slice(`client h=${h} →`.length)}`;
    } else if (x.name === 'onListening' && a[1] === 0 && lane.kind === 'listener') {
      lane.label = `listener h=${h} ${strings(x.payload)[0]}:${a[3]}`;
    }
    return lane;
  }
}
