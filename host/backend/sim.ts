// The sim backend: an in-memory network with a virtual clock and a seeded scheduler.
//
// A SimNetwork holds addresses, ports and IPC paths, a virtual clock, and one queue of pending
// events ordered by (time, a seeded tie-break), so that independent events that fall on the same
// millisecond come in an order the seed chooses. Stacks created with `backend: 'sim'` attach a
// SimBackend to a network (their own, or a shared one). The network runs itself: while events
// are pending it handles one per `setImmediate` turn, letting user code's ticks and promises run
// between them, and it jumps the clock to the next event, so a 30 s timeout costs no wall time.
//
// The model of a connection is the kernel's, per direction: a send buffer (WRITE puts bytes in
// it and is confirmed at once, credit is its free space), bytes in flight (after the latency),
// and the receiver's buffer, delivered to the core in chunks of a seeded size while it reads.
// FIN follows the last byte. Closing with a graceful CLOSE sends FIN; bytes that reach a closed
// end answer with RST, which the other end sees as ECONNRESET (reading) or EPIPE (writing).
// Knobs: latency, read chunk sizes, send buffer down to 1 byte (1-byte credit), refusal and
// reset probabilities. Determinism covers everything that goes through the stack; the docs say
// what falls outside (global timers, other I/O).
import type { Core, Output } from '../core/core.js';
import { Op, ERRNO, SYSCALL, ListenFlag } from '../core/abi.js';
import type { Backend, LookupCallback, LookupOptions } from './backend.js';
import { dnsException } from '../core/errno.js';

export interface SimOptions {
  /** Seed of every random choice (default 1). */
  seed?: number;
  /** One-way latency in ms: a number, or [min, max] drawn per packet (default 1). */
  latency?: number | [number, number];
  /** Sizes of the chunks a receiver reads, [min, max] bytes (default [1, 65536]). */
  chunk?: [number, number];
  /** Send buffer per socket in bytes; 1 gives 1-byte write credit (default 65536). */
  sndbuf?: number;
  /** Receive buffer per socket in bytes (default 131072). */
  rcvbuf?: number;
  /** Probability that a connection attempt is refused (ECONNREFUSED) (default 0). */
  refuse?: number;
  /** Probability, per delivered chunk, that the connection is reset instead (default 0). */
  reset?: number;
  /** Name resolution: host name -> addresses (default: localhost -> 127.0.0.1). */
  hosts?: Record<string, string[]>;
}

/** A small seeded PRNG (mulberry32): the only source of randomness of a network. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = (seed >>> 0) || 0x9e3779b9;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }
}

export interface SimEvent {
  at: number; key: number; seq: number; run: () => void; dead?: boolean;
  /** A backend's timer wake-up: it keeps the process alive only while that backend holds a ref'd handle. */
  timerOf?: SimBackend;
}

/** Counts of what the network did, for tests that report coverage. */
export interface SimStats {
  connects: number; refused: number; resets: number; injectedResets: number; bytes: number;
  chunks: number; fins: number; timers: number; events: number;
}

interface Listener { backend: SimBackend; h: number; address: string; port: number; family: number; path: string | null; v6only: boolean }

function familyOf(address: string): number {
  return address.includes(':') ? 6 : 4;
}

function isAny(address: string): boolean {
  return address === '' || address === '::' || address === '0.0.0.0';
}

/**
 * Whether two bindings of one port clash, as on Linux: one address family apart never clash,
 * except with a dual-stack '::' (not ipv6Only); within a family, the same address or a wildcard.
 */
function overlap(a: string, aV6only: boolean, b: string, bV6only: boolean): boolean {
  if (a === '') a = '::';
  if (b === '') b = '::';
  if (a === b) return true;
  if (familyOf(a) === familyOf(b)) return isAny(a) || isAny(b);
  return (a === '::' && !aV6only) || (b === '::' && !bV6only);
}

export class SimNetwork {
  now = 0;
  readonly rng: Rng;
  readonly options: Required<SimOptions>;
  readonly stats: SimStats = { connects: 0, refused: 0, resets: 0, injectedResets: 0, bytes: 0, chunks: 0, fins: 0, timers: 0, events: 0 };
  #queue: SimEvent[] = [];
  #seq = 0;
  #scheduled = false;
  #idle: (() => void)[] = [];
  #listeners: Listener[] = [];
  #nextPort = 49152;
  #strong = 0;            // pending events other than timer wake-ups
  #timerEvents = new Set<SimEvent>();
  #immediate: NodeJS.Immediate | null = null;

  constructor(options: SimOptions = {}) {
    this.options = {
      seed: options.seed ?? 1,
      latency: options.latency ?? 1,
      chunk: options.chunk ?? [1, 65536],
      sndbuf: Math.max(1, options.sndbuf ?? 65536),
      rcvbuf: Math.max(1, options.rcvbuf ?? 131072),
      refuse: options.refuse ?? 0,
      reset: options.reset ?? 0,
      hosts: options.hosts ?? { localhost: ['127.0.0.1'] },
    };
    this.rng = new Rng(this.options.seed);
  }

  latency(): number {
    const l = this.options.latency;
    return typeof l === 'number' ? l : this.rng.int(l[0], l[1]);
  }

  chunkSize(): number {
    const [lo, hi] = this.options.chunk;
    return this.rng.int(Math.max(1, lo), Math.max(1, hi));
  }

  /** Schedules `run` `delay` ms from now; equal times are ordered by the seed. */
  schedule(delay: number, run: () => void, timerOf?: SimBackend): SimEvent {
    const ev: SimEvent = { at: this.now + Math.max(0, delay), key: this.rng.next(), seq: this.#seq++, run, timerOf };
    if (timerOf) this.#timerEvents.add(ev);
    else this.#strong++;
    const q = this.#queue;
    q.push(ev);
    let i = q.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (before(q[p], q[i])) break;
      [q[p], q[i]] = [q[i], q[p]];
      i = p;
    }
    this.#kick();
    return ev;
  }

  /** Drops a scheduled event: it will neither run nor move the clock. */
  cancel(ev: SimEvent): void {
    if (!ev.dead) this.#settle(ev);
    ev.dead = true;
    this.refresh();
  }

  /** An event leaves the pending set (it runs or is cancelled). */
  #settle(ev: SimEvent): void {
    if (ev.timerOf) this.#timerEvents.delete(ev);
    else this.#strong--;
  }

  /**
   * Whether the network keeps the process alive, as the handles it stands for would: while
   * traffic is pending, while someone awaits run(), and while a timer wake-up serves a backend
   * that holds a ref'd handle (an unref'ed socket's timeout does not keep Node alive).
   */
  #keepsAlive(): boolean {
    if (this.#strong > 0 || this.#idle.length > 0) return true;
    for (const ev of this.#timerEvents) if (ev.timerOf!.holdsRef()) return true;
    return false;
  }

  /** Re-reads whether the network keeps the process alive (after a ref or unref). */
  refresh(): void {
    const imm = this.#immediate;
    if (imm) {
      if (this.#keepsAlive()) imm.ref();
      else imm.unref();
    }
  }

  #pop(): SimEvent | undefined {
    const q = this.#queue;
    if (q.length === 0) return undefined;
    const top = q[0];
    const last = q.pop()!;
    if (q.length > 0) {
      q[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < q.length && before(q[l], q[m])) m = l;
        if (r < q.length && before(q[r], q[m])) m = r;
        if (m === i) break;
        [q[m], q[i]] = [q[i], q[m]];
        i = m;
      }
    }
    return top;
  }

  #kick(): void {
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#immediate = setImmediate(() => this.#step());
    }
    this.refresh();
  }

  #step(): void {
    this.#scheduled = false;
    this.#immediate = null;
    let ev = this.#pop();
    while (ev && ev.dead) ev = this.#pop();
    if (ev) this.#settle(ev);
    if (!ev) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const f of waiting) f();
      return;
    }
    if (ev.at > this.now) this.now = ev.at;
    this.stats.events++;
    this.#kick();
    ev.run();
  }

  /** Resolves once no event is pending (every queued effect has happened). */
  run(): Promise<void> {
    return new Promise((resolve) => {
      this.#idle.push(resolve);
      this.#kick();
    });
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Local ports of connections (a listener on one, or a bind to one, is refused). */
  readonly bound = new Set<number>();

  ephemeralPort(): number {
    let p: number;
    do {
      p = this.#nextPort++;
      if (this.#nextPort > 65535) this.#nextPort = 49152;
    } while (this.bound.has(p) || this.#listeners.some((x) => x.path === null && x.port === p));
    return p;
  }

  /** Whether binding (address, port) would clash with a listener or a connection's local port. */
  portInUse(address: string, port: number): boolean {
    return this.bound.has(port) || this.#listeners.some((x) => x.path === null && x.port === port &&
      overlap(x.address, x.v6only, address, false));
  }

  // ---------------------------------------------------------------- listeners

  listen(l: Listener): number {
    if (l.path !== null) {
      if (this.#listeners.some((x) => x.path === l.path)) return ERRNO.EADDRINUSE;
    } else {
      if (l.port === 0) {
        do l.port = this.ephemeralPort(); while (this.#listeners.some((x) => x.path === null && x.port === l.port));
      }
      // A connection's local port is taken too (Node's listen refuses it, as Linux does).
      const clash = this.bound.has(l.port) || this.#listeners.some((x) => x.path === null && x.port === l.port &&
        overlap(x.address, x.v6only, l.address, l.v6only));
      if (clash) return ERRNO.EADDRINUSE;
    }
    this.#listeners.push(l);
    return 0;
  }

  unlisten(backend: SimBackend, h: number): void {
    this.#listeners = this.#listeners.filter((x) => !(x.backend === backend && x.h === h));
  }

  /** The listener a connection to (address, port) or to a path reaches. */
  find(address: string, port: number, path: string | null): Listener | undefined {
    if (path !== null) return this.#listeners.find((x) => x.path === path);
    const fam = familyOf(address);
    return this.#listeners.find((x) => x.path === null && x.port === port &&
      (x.address === address || (x.address === '0.0.0.0' && fam === 4) || x.address === '' ||
        (x.address === '::' && (fam === 6 || !x.v6only))));
  }

  lookup(host: string, family: number): { address: string; family: number }[] | null {
    const list = this.options.hosts[host.toLowerCase()];
    if (!list) return null;
    const out = list.map((address) => ({ address, family: familyOf(address) }));
    return family === 4 || family === 6 ? out.filter((a) => a.family === family) : out;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at !== b.at ? a.at < b.at : a.key !== b.key ? a.key < b.key : a.seq < b.seq;
}

/** One end of a simulated connection. */
class End {
  peer: End | null = null;
  sendq: Buffer[] = [];   // in the send buffer, not yet on the wire
  inSnd = 0;
  rcv: Buffer[] = [];     // arrived, not yet read by the core
  rcvBytes = 0;
  inFlight = 0;           // bytes on their way to this end
  wire: { at: number; piece: Buffer | null }[] = []; // in order: bytes, then null for FIN
  wireAt = 0;             // arrival time of the last thing put on the wire to this end
  wireBusy = false;
  reading = false;
  delivering = false;
  wantFin = false;        // SHUTDOWN asked: FIN after the send buffer drains
  finSent = false;
  finArrived = false;     // the peer's FIN arrived (after its last byte)
  eofReported = false;
  closed = false;         // CLOSE done (or never had a core handle)
  broken = false;         // reset: no more traffic
  pumping = false;
  connected = true;       // a client end is not, until its connect is reported
  constructor(public backend: SimBackend, public h: number, public local: { address: string; port: number },
    public remote: { address: string; port: number }, public family: number) {}
}

export class SimBackend implements Backend {
  readonly kind = 'sim';
  readonly network: SimNetwork;
  #core!: Core;
  #ends = new Map<number, End>();
  #listening = new Set<number>();
  #timer: SimEvent | null = null;
  #timerSeq = 0;
  #unrefd = new Set<number>();  // handles the core unref'ed (REF 0)
  #userTimers = 0;              // the stack's own timers pending: they keep the process alive

  constructor(network: SimNetwork) {
    this.network = network;
  }

  now(): number {
    return this.network.now;
  }

  /** Whether this backend holds a handle that keeps Node's event loop alive. */
  holdsRef(): boolean {
    if (this.#userTimers > 0) return true;
    for (const h of this.#ends.keys()) if (!this.#unrefd.has(h)) return true;
    for (const h of this.#listening) if (!this.#unrefd.has(h)) return true;
    for (const h of this.#connects.keys()) if (!this.#unrefd.has(h)) return true;
    return false;
  }

  userTimers(pending: number): void {
    this.#userTimers = pending;
    this.network.refresh();
  }

  attach(core: Core): void {
    this.#core = core;
    this.#timerSeq = 0;
  }

  fdOf(): number {
    return -1;
  }

  handleObject(): object | null {
    return null;
  }

  adoptHandle(): number {
    return -1;
  }

  abandon(): void {
    if (this.#timer) this.network.cancel(this.#timer);
    this.#timer = null;
    for (const e of this.#ends.values()) { e.closed = true; e.broken = true; }
    for (const h of this.#listening) this.network.unlisten(this, h);
    this.#ends.clear();
    this.#listening.clear();
  }

  lookup(hostArg: unknown, options: LookupOptions, callback: LookupCallback): void {
    const net = this.network;
    const host = String(hostArg);
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family) || 0;
    net.schedule(net.latency(), () => {
      const found = net.lookup(host, family);
      if (!found || found.length === 0) {
        callback(dnsException(ERRNO.ENOTFOUND, 'getaddrinfo', host), undefined);
      } else if (options.all) {
        callback(null, found);
      } else {
        callback(null, found[0].address, found[0].family);
      }
    });
  }

  exec(o: Output): void {
    switch (o.op) {
      case Op.CMD_CONNECT: return this.#connect(o);
      case Op.CMD_LISTEN: return this.#listen(o);
      case Op.CMD_READ_START: { const e = this.#ends.get(o.h); if (e) { e.reading = true; this.#deliver(e); } return; }
      case Op.CMD_READ_STOP: { const e = this.#ends.get(o.h); if (e) e.reading = false; return; }
      case Op.CMD_WRITE: return this.#write(o.h, o.data!);
      case Op.CMD_SHUTDOWN: return this.#shutdown(o.h);
      case Op.CMD_CLOSE: return this.#close(o.h, o.a === 1);
      case Op.CMD_TIMER: {
        if (o.a < this.#timerSeq) return; // a later TIMER already replaced this one
        this.#timerSeq = o.a;
        if (this.#timer) this.network.cancel(this.#timer); // one wake-up: the latest replaces it
        this.#timer = null;
        if (o.c < 0) return;
        this.network.stats.timers++;
        this.#timer = this.network.schedule(o.c - this.network.now, () => {
          this.#timer = null;
          this.#core.onTimer();
        }, this);
        return;
      }
      case Op.CMD_REF: {
        if (o.a) this.#unrefd.delete(o.h);
        else this.#unrefd.add(o.h);
        this.network.refresh();
        return;
      }
      case Op.CMD_OPEN: {
        const err = new TypeError('Unsupported fd type: sim network has no file descriptors') as NodeJS.ErrnoException;
        err.code = 'ERR_INVALID_FD_TYPE';
        throw err;
      }
      default: return; // SET_OPTION: nothing to simulate
    }
  }

  #listen(o: Output): void {
    const flags = o.c;
    const name = o.data ? o.data.toString('utf8') : '';
    if ((flags & ListenFlag.Ipc) === 0 && name !== '') {
      // Node resolves the host first (dns.lookup), so the listen completes on a later turn.
      this.network.schedule(0, () => { if (!this.#cancelled.delete(o.h)) this.#doListen(o); });
      this.#lookingUp.add(o.h);
      return;
    }
    this.#doListen(o);
  }

  #lookingUp = new Set<number>();
  #cancelled = new Set<number>();

  #doListen(o: Output): void {
    this.#lookingUp.delete(o.h);
    const h = o.h;
    const flags = o.c;
    const name = o.data ? o.data.toString('utf8') : '';
    const ipc = (flags & ListenFlag.Ipc) !== 0;
    if (flags & (ListenFlag.Fd | ListenFlag.Handle)) {
      this.#core.onListening(h, ERRNO.EINVAL, SYSCALL.listen, 0, 0, ''); // no descriptors on a sim
      return;
    }
    let address = ipc ? '' : name;
    if (!ipc && address !== '' && !/^[0-9.]+$|:/.test(address)) {
      const found = this.network.lookup(address, 0);
      if (!found || found.length === 0) {
        this.#core.onListening(h, ERRNO.ENOTFOUND, SYSCALL.getaddrinfo, 0, 0, '');
        return;
      }
      address = found[0].address;
    }
    if (!ipc && address === '') address = '::';
    const l: Listener = { backend: this, h, address, port: ipc ? 0 : o.a, family: ipc ? 0 : familyOf(address),
      path: ipc ? name : null, v6only: (flags & ListenFlag.Ipv6Only) !== 0 };
    const err = this.network.listen(l);
    if (err) {
      this.#core.onListening(h, err, SYSCALL.listen, 0, 0, '');
      return;
    }
    this.#listening.add(h);
    this.#core.onListening(h, 0, 0, l.port, l.family, ipc ? name : address);
  }

  #connect(o: Output): void {
    const h = o.h;
    const net = this.network;
    const old = this.#ends.get(h);
    if (old) { old.closed = true; old.broken = true; this.#ends.delete(h); }
    const raw = o.data ? o.data.toString('utf8') : '';
    const cut = raw.lastIndexOf('\0');
    let address = cut < 0 ? raw : raw.slice(0, cut);
    const localAddress = cut < 0 ? '' : raw.slice(cut + 1);
    const family = o.b;
    const path = family === 0 ? address : null;
    // Linux connects to the unspecified address as to loopback.
    if (address === '0.0.0.0') address = '127.0.0.1';
    else if (family === 6 && address === '::') address = '::1';
    const port = o.a;
    net.stats.connects++;
    const attempt = { h, live: true };
    const localPort = o.c;
    if (path === null && (localAddress || localPort)) {
      // bind() happens at once, before anything goes on the wire.
      if (localPort && net.portInUse(localAddress || (family === 6 ? '::' : '0.0.0.0'), localPort)) {
        this.#core.onConnect(h, ERRNO.EADDRINUSE, SYSCALL.bind, 0, 0, 0, 0, '', '');
        return;
      }
      this.#connects.set(h, attempt);
      this.#core.onBound(h);
      if (!this.#pendingConnect(h, attempt)) return; // destroyed from the 'connectionAttempt' handler
    }
    const delay = net.latency();
    net.schedule(delay, () => {
      if (this.#ends.get(h) !== undefined || !this.#pendingConnect(h, attempt)) return;
      const l = net.find(address, port, path);
      if (!l || net.rng.chance(net.options.refuse)) {
        net.stats.refused++;
        net.schedule(net.latency(), () => {
          if (!this.#pendingConnect(h, attempt)) return;
          this.#connects.delete(h);
          // A missing file is ENOENT; an abstract name (Linux, no file) that nobody listens on is refused.
          const code = path !== null && !l && !path.startsWith('\0') ? ERRNO.ENOENT : ERRNO.ECONNREFUSED;
          this.#core.onConnect(h, code, SYSCALL.connect, 0, 0, 0, 0, '', '');
        });
        return;
      }
      // The server side accepts now; the client learns of it one latency later.
      const local = path !== null ? { address: '', port: 0 } :
        { address: localAddress || (family === 6 ? '::1' : '127.0.0.1'), port: o.c || net.ephemeralPort() };
      net.bound.add(local.port);
      const serverAddr = path !== null ? { address: '', port: 0 } :
        { address: isAny(l.address) ? address : l.address, port: l.port };
      const client = new End(this, h, local, serverAddr, path !== null ? 0 : family);
      client.connected = false;
      // An IPv4 client of a dual-stack '::' listener is an IPv4-mapped IPv6 peer to the server.
      const server = l.family === 6 && client.family === 4
        ? new End(l.backend, 0, { address: `::ffff:${serverAddr.address}`, port: serverAddr.port },
          { address: `::ffff:${local.address}`, port: local.port }, 6)
        : new End(l.backend, 0, serverAddr, local, client.family);
      client.peer = server;
      server.peer = client;
      server.h = l.backend.#accept(l, server);
      net.schedule(net.latency(), () => {
        if (!this.#pendingConnect(h, attempt)) {
          // Given up on (timeout, destroy) after the kernel completed the handshake: closing
          // the socket sends FIN, and its local port is free again.
          client.closed = true;
          if (path === null) net.bound.delete(local.port);
          if (!client.broken) { client.wantFin = true; this.#pump(client); }
          return;
        }
        this.#connects.delete(h);
        this.#ends.set(h, client);
        client.connected = true;
        this.#core.onConnect(h, 0, 0, net.options.sndbuf, local.port, serverAddr.port, client.family,
          local.address, serverAddr.address);
        // Reset by the server before we heard back: on real TCP the handshake completed first,
        // so the client sees 'connect', then the reset.
        if (client.broken && !client.closed) this.#core.onError(h, ERRNO.ECONNRESET, SYSCALL.read);
      });
    });
    this.#connects.set(h, attempt);
  }

  #connects = new Map<number, { h: number; live: boolean }>();

  #pendingConnect(h: number, attempt: { h: number; live: boolean }): boolean {
    return this.#connects.get(h) === attempt;
  }

  #accept(l: Listener, end: End): number {
    let handle = 0;
    this.#core.onConnection(l.h, this.network.options.sndbuf, end.family, end.local.port, end.remote.port,
      end.local.address, end.remote.address, (sh) => {
        handle = sh;
        end.h = sh;
        this.#ends.set(sh, end);
      });
    return handle;
  }

  #write(h: number, data: Buffer): void {
    const e = this.#ends.get(h);
    if (!e || e.closed) return;
    if (e.broken) {
      this.network.schedule(0, () => { if (!e.closed) this.#core.onError(h, ERRNO.EPIPE, SYSCALL.write); });
      return;
    }
    if (e.family === 0 && e.peer && e.peer.closed) {
      this.#core.onError(h, ERRNO.EPIPE, SYSCALL.write); // a Unix socket knows its peer is gone
      return;
    }
    // The network keeps its own copy (bytes wait in buffers and on the wire), so the core's
    // pooled buffer goes back at once.
    e.sendq.push(Buffer.from(data));
    this.#core.release(data);
    e.inSnd += data.length;
    // Into the send buffer at once, like a kernel write: confirmed, credit is what is left.
    this.#core.onWritten(h, data.length, Math.max(0, this.network.options.sndbuf - e.inSnd));
    this.#pump(e);
  }

  /** Moves bytes from a send buffer onto the wire, as far as the receiver has room. */
  #pump(e: End): void {
    if (e.pumping) return;
    e.pumping = true;
    const net = this.network;
    net.schedule(0, () => {
      e.pumping = false;
      const peer = e.peer;
      if (e.broken || !peer) return;
      let room = net.options.rcvbuf - peer.rcvBytes - peer.inFlight;
      let moved = 0;
      while (e.sendq.length > 0 && room > 0) {
        const head = e.sendq[0];
        const n = Math.min(head.length, room, net.chunkSize());
        const piece = head.subarray(0, n);
        if (n === head.length) e.sendq.shift();
        else e.sendq[0] = head.subarray(n);
        e.inSnd -= n;
        room -= n;
        moved += n;
        peer.inFlight += n;
        net.stats.bytes += n;
        peer.backend.#transmit(peer, piece);
      }
      if (moved > 0 && !e.closed && e.h) {
        const credit = Math.max(0, net.options.sndbuf - e.inSnd);
        this.#core.onWritten(e.h, 0, credit);
      }
      if (e.sendq.length > 0) return; // wait for room: #deliver pumps the peer again
      if (e.wantFin && !e.finSent) this.#sendFin(e);
    });
  }

  /**
   * Puts bytes (or FIN, as null) on the wire towards `e`. A connection never reorders: each
   * arrival is at or after the previous one, and they are handled one at a time, in order.
   */
  #transmit(e: End, piece: Buffer | null): void {
    const net = this.network;
    e.wireAt = Math.max(e.wireAt, net.now + net.latency());
    e.wire.push({ at: e.wireAt, piece });
    this.#wireKick(e);
  }

  #wireKick(e: End): void {
    if (e.wireBusy || e.wire.length === 0) return;
    e.wireBusy = true;
    const net = this.network;
    net.schedule(e.wire[0].at - net.now, () => {
      e.wireBusy = false;
      const next = e.wire.shift();
      if (next === undefined) return; // reset meanwhile: the wire was cleared
      const piece = next.piece;
      if (piece !== null) {
        this.#arrive(e, piece);
      } else if (!e.broken) {
        e.finArrived = true;
        this.#deliver(e);
      }
      this.#wireKick(e);
    });
  }

  #sendFin(e: End): void {
    e.finSent = true;
    this.network.stats.fins++;
    const peer = e.peer;
    if (peer && !peer.broken) peer.backend.#transmit(peer, null);
    if (!e.closed && e.h) {
      const h = e.h;
      this.network.schedule(0, () => { if (!e.closed) this.#core.onShutdown(h, 0); });
    }
  }

  #arrive(e: End, piece: Buffer): void {
    e.inFlight -= piece.length;
    if (e.broken) return;
    if (e.closed) {
      // Data for a closed socket: the kernel answers with RST.
      if (e.peer) e.backend.#rst(e);
      return;
    }
    e.rcv.push(piece);
    e.rcvBytes += piece.length;
    e.backend.#deliver(e);
  }

  /** Hands received bytes (then EOF) to the core while it reads, one chunk per event. */
  #deliver(e: End): void {
    if (e.delivering || !e.reading || e.closed || e.broken) return;
    if (e.rcv.length === 0 && !(e.finArrived && !e.eofReported)) return;
    e.delivering = true;
    const net = this.network;
    net.schedule(0, () => {
      e.delivering = false;
      if (!e.reading || e.closed || e.broken) return;
      if (e.rcv.length > 0) {
        if (net.rng.chance(net.options.reset)) {
          net.stats.injectedResets++;
          this.#rst(e.peer!);
          this.#rst(e);
          return;
        }
        const want = net.chunkSize();
        const parts: Buffer[] = [];
        let n = 0;
        while (e.rcv.length > 0 && n < want) {
          const head = e.rcv[0];
          const take = Math.min(head.length, want - n);
          parts.push(head.subarray(0, take));
          if (take === head.length) e.rcv.shift();
          else e.rcv[0] = head.subarray(take);
          n += take;
        }
        e.rcvBytes -= n;
        net.stats.chunks++;
        this.#core.onData(e.h, parts.length === 1 ? parts[0] : Buffer.concat(parts));
        if (e.peer) e.peer.backend.#pump(e.peer); // room freed: the sender may move on
      } else if (e.finArrived && !e.eofReported) {
        e.eofReported = true;
        this.#core.onEof(e.h);
      }
      this.#deliver(e);
    });
  }

  #shutdown(h: number): void {
    const e = this.#ends.get(h);
    if (!e || e.closed) return;
    if (e.broken) {
      this.network.schedule(0, () => { if (!e.closed) this.#core.onShutdown(h, ERRNO.ENOTCONN); });
      return;
    }
    e.wantFin = true;
    this.#pump(e);
  }

  /** The connection is reset: this end reports ECONNRESET (if its core still holds it). */
  #rst(e: End): void {
    if (e.broken) return;
    e.broken = true;
    e.rcv = [];
    e.rcvBytes = 0;
    e.sendq = [];
    e.wire = [];
    e.inFlight = 0;
    this.network.stats.resets++;
    const peer = e.peer;
    if (peer && !peer.broken) {
      this.network.schedule(this.network.latency(), () => peer.backend.#rst(peer));
    }
    if (!e.closed && e.h && e.connected) {
      // After the peer's FIN nothing more is read: the reset shows on the next write (EPIPE).
      const h = e.h;
      const [errno, op] = e.finArrived ? [ERRNO.EPIPE, SYSCALL.write] : [ERRNO.ECONNRESET, SYSCALL.read];
      this.network.schedule(0, () => { if (!e.closed) e.backend.#core.onError(h, errno, op); });
    }
  }

  /** A connecting side's end: its local port was bound for it (a listener's ends share the port). */
  #isClientEnd(e: End): boolean {
    return e.peer !== null && e.peer.local.port !== e.local.port && e.remote.port === e.peer.local.port &&
      !this.network.find(e.local.address, e.local.port, null);
  }

  #close(h: number, reset: boolean): void {
    const net = this.network;
    if (this.#listening.has(h)) {
      this.#listening.delete(h);
      net.unlisten(this, h);
      return;
    }
    if (this.#lookingUp.delete(h)) { this.#cancelled.add(h); return; } // closed while resolving
    const attempt = this.#connects.get(h);
    if (attempt) this.#connects.delete(h);
    const e = this.#ends.get(h);
    this.#ends.delete(h);
    if (e) {
      e.closed = true;
      e.reading = false;
      if (e.connected && e.local.port && this.#isClientEnd(e)) net.bound.delete(e.local.port);
      if (reset || e.rcvBytes > 0) {
        this.#rst(e); // RST: an explicit reset, or closing with unread data (as Linux does)
      } else if (!e.finSent && !e.broken) {
        e.wantFin = true;
        this.#pump(e);
      }
    }
    net.schedule(0, () => this.#core.onClosed(h));
  }
}
