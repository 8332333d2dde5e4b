// The sim backend: carries one stack's core commands on a SimNetwork.
//
// It keeps the stack's handles (connection ends, listeners, connects under way, the one timer
// wake-up) and answers the core's commands: LISTEN registers with the network's addresses,
// CONNECT runs the handshake one latency each way (the server side accepts when the SYN
// arrives; the client hears one latency later), and a connection's traffic is its two ends'
// business (tcp-end.ts). Several backends can share one network: a connection's ends may
// belong to two stacks, and each end reports to its own stack's core.
import type { Core, Output } from '../../core/core.js';
import { Op, ERRNO, SYSCALL, ListenFlag } from '../../core/abi.js';
import type { Backend, LookupCallback, LookupOptions } from '../backend.js';
import { dnsException } from '../../core/errno.js';
import type { SimNetwork } from './network.js';
import type { SimEvent } from './scheduler.js';
import { familyOf, isAny, type Listener } from './addresses.js';
import { End, EndState, type EndOwner } from './tcp-end.js';
import { HandleTable } from '../../core/handle-table.js';

/**
 * One CONNECT of a handle, by identity: a later CONNECT of the same handle, or its CLOSE,
 * replaces or drops it, and the attempt's pending events see that they are stale.
 */
type Attempt = object;

export class SimBackend implements Backend, EndOwner {
  readonly kind = 'sim';
  readonly network: SimNetwork;
  #core!: Core;
  #ends = new HandleTable<End>();
  #listening = new Set<number>();
  #connects = new HandleTable<Attempt>();
  #lookingUp = new Set<number>(); // listens on a host name, resolving
  #cancelled = new Set<number>(); // of those, closed while resolving
  #timer: SimEvent | null = null;
  #timerSeq = 0;
  #unrefd = new Set<number>();  // handles the core unref'ed (REF 0)
  #userTimers = 0;              // the stack's own timers pending: they keep the process alive

  constructor(network: SimNetwork) {
    this.network = network;
  }

  /** The stack's core (a fresh one after a trap): every end this backend holds reports to it. */
  get core(): Core {
    return this.#core;
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
    for (const e of this.#ends.values()) e.drop();
    for (const h of this.#listening) this.network.addresses.unlisten(this, h);
    this.#ends.clear();
    this.#listening.clear();
  }

  lookup(hostArg: unknown, options: LookupOptions, callback: LookupCallback): void {
    const net = this.network;
    const host = String(hostArg);
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family) || 0;
    net.schedule(net.latency(), () => {
      const found = net.addresses.lookup(host, family);
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
      case Op.CMD_READ_START: { const e = this.#ends.get(o.h); if (e) e.readStart(); return; }
      case Op.CMD_READ_STOP: { const e = this.#ends.get(o.h); if (e) e.readStop(); return; }
      case Op.CMD_WRITE: { const e = this.#ends.get(o.h); if (e && !e.closed) e.write(o.data!); return; }
      case Op.CMD_SHUTDOWN: { const e = this.#ends.get(o.h); if (e && !e.closed) e.shutdown(); return; }
      case Op.CMD_CLOSE: return this.#close(o.h, o.a === 1);
      case Op.CMD_TIMER: return this.#setTimer(o.a, o.c);
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

  /** TIMER `seq` at `at` (-1: none): one wake-up per backend, the latest replaces it. */
  #setTimer(seq: number, at: number): void {
    if (seq < this.#timerSeq) return; // a later TIMER already replaced this one
    this.#timerSeq = seq;
    if (this.#timer) this.network.cancel(this.#timer);
    this.#timer = null;
    if (at < 0) return;
    this.network.stats.timers++;
    this.#timer = this.network.schedule(at - this.network.now, () => {
      this.#timer = null;
      this.#core.onTimer();
    }, this);
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
      const found = this.network.addresses.lookup(address, 0);
      if (!found || found.length === 0) {
        this.#core.onListening(h, ERRNO.ENOTFOUND, SYSCALL.getaddrinfo, 0, 0, '');
        return;
      }
      address = found[0].address;
    }
    if (!ipc && address === '') address = '::';
    const l: Listener = { backend: this, h, address, port: ipc ? 0 : o.a, family: ipc ? 0 : familyOf(address),
      path: ipc ? name : null, v6only: (flags & ListenFlag.Ipv6Only) !== 0 };
    const err = this.network.addresses.listen(l);
    if (err) {
      this.#core.onListening(h, err, SYSCALL.listen, 0, 0, '');
      return;
    }
    this.#listening.add(h);
    this.#core.onListening(h, 0, 0, l.port, l.family, ipc ? name : address);
  }

  /**
   * CONNECT: an optional bind at once, then the SYN one latency away: refused (no listener, or
   * the refusal knob) one more latency later, or accepted by the listener's backend at once and
   * reported to this core one latency later.
   */
  #connect(o: Output): void {
    const h = o.h;
    const net = this.network;
    const old = this.#ends.get(h);
    if (old) { old.drop(); this.#ends.delete(h); }
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
    const attempt: Attempt = {};
    const localPort = o.c;
    if (path === null && (localAddress || localPort)) {
      // bind() happens at once, before anything goes on the wire.
      if (localPort && net.addresses.portInUse(localAddress || (family === 6 ? '::' : '0.0.0.0'), localPort)) {
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
      const l = net.addresses.find(address, port, path);
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
        { address: localAddress || (family === 6 ? '::1' : '127.0.0.1'), port: o.c || net.addresses.ephemeralPort() };
      net.addresses.bound.add(local.port);
      const serverAddr = path !== null ? { address: '', port: 0 } :
        { address: isAny(l.address) ? address : l.address, port: l.port };
      const client = new End(net, this, h, local, serverAddr, path !== null ? 0 : family, EndState.Connecting);
      // An IPv4 client of a dual-stack '::' listener is an IPv4-mapped IPv6 peer to the server.
      const server = l.family === 6 && client.family === 4
        ? new End(net, l.backend, 0, { address: `::ffff:${serverAddr.address}`, port: serverAddr.port },
          { address: `::ffff:${local.address}`, port: local.port }, 6, EndState.Open)
        : new End(net, l.backend, 0, serverAddr, local, client.family, EndState.Open);
      client.peer = server;
      server.peer = client;
      server.h = l.backend.#accept(l, server);
      net.schedule(net.latency(), () => {
        if (!this.#pendingConnect(h, attempt)) {
          // Given up on (timeout, destroy) after the kernel completed the handshake: its local
          // port is free again, and closing the socket sends FIN.
          if (path === null) net.addresses.bound.delete(local.port);
          client.giveUp();
          return;
        }
        this.#connects.delete(h);
        this.#ends.set(h, client);
        client.markConnected();
        this.#core.onConnect(h, 0, 0, net.options.sndbuf, local.port, serverAddr.port, client.family,
          local.address, serverAddr.address);
        // Reset by the server before we heard back: on real TCP the handshake completed first,
        // so the client sees 'connect', then the reset.
        if (client.broken && !client.closed) this.#core.onError(h, ERRNO.ECONNRESET, SYSCALL.read);
      });
    });
    this.#connects.set(h, attempt);
  }

  #pendingConnect(h: number, attempt: Attempt): boolean {
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

  /** A connecting side's end: its local port was bound for it (a listener's ends share the port). */
  #isClientEnd(e: End): boolean {
    return e.peer !== null && e.peer.local.port !== e.local.port && e.remote.port === e.peer.local.port &&
      !this.network.addresses.find(e.local.address, e.local.port, null);
  }

  #close(h: number, reset: boolean): void {
    const net = this.network;
    if (this.#listening.has(h)) {
      this.#listening.delete(h);
      net.addresses.unlisten(this, h);
      return;
    }
    if (this.#lookingUp.delete(h)) { this.#cancelled.add(h); return; } // closed while resolving
    const attempt = this.#connects.get(h);
    if (attempt) this.#connects.delete(h);
    const e = this.#ends.get(h);
    this.#ends.delete(h);
    if (e) {
      if (e.connected && e.local.port && this.#isClientEnd(e)) net.addresses.bound.delete(e.local.port);
      e.close(reset);
    }
    net.schedule(0, () => this.#core.onClosed(h));
  }
}
