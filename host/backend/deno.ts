// The Deno backend: the core's commands carried out on Deno's own socket API (Deno.connect,
// Deno.listen; TCP and Unix sockets), not on Deno's node:net emulation. Used by default when
// wasinet runs on Deno (load.ts).
//
// Deno's sockets are promise-based, so the backend turns the core's commands into a few small
// loops per connection:
// - reading: between READ_START and READ_STOP one `conn.read()` is always pending, into the
//   connection's own 64 KiB buffer (Node's read size); each read is copied into the core's
//   scratch (Core#onDataBorrowed). Not straight into the core's memory: the read stays pending
//   across turns while every other input reuses scratch, and a growth of memory would detach
//   the target. A read that completes after READ_STOP (it cannot be cancelled) is kept and
//   handed over at the next READ_START, so a paused socket delivers nothing, as in Node.
// - writing: credit is what Deno has taken. A WRITE is copied into the connection's write
//   buffer at once and confirmed at once (the bytes are the runtime's now, as libuv's
//   try-write gives them to the kernel), and the credit shrinks by what is queued; as Deno's
//   writes complete, the core hears the credit it has again. Queued bytes are always delivered:
//   SHUTDOWN (closeWrite) and a graceful CLOSE wait for the queue.
// - closing: CLOSE closes the Deno resource (which fails a pending read or accept; those are
//   ignored) and reports onClosed from the next check phase, as libuv's close callback.
//
// What Deno's API cannot do (listed in docs/embedding.md): bind a client socket's local address
// or port, reset a connection (RST: a reset is a plain close), listen with ipv6Only or on an
// fd or another server's handle, or wrap an existing fd (OPEN fails with ENOTSUP).
//
// (A little over 400 lines: connecting, the read and write loops and listening are one
// transport's, read together; Deno's API as used here is declared in deno-api.ts.)
import type { Backend } from './backend.js';
import type { Output } from '../core/core.js';
import { Op, ERRNO, SYSCALL, Opt, ListenFlag } from '../core/abi.js';
import { type DenoConn, type DenoListener, deno } from './deno-api.js';
import { CREDIT, creditLeft, familyOfAddress, errnoOf, lookup, later, replayStash, READ_SIZE, RuntimeBackendBase, type Linger, closeLingering, reportClosed } from './runtime-common.js';
import { HandleTable } from '../core/handle-table.js';
import { splitNames } from '../core/names.js';

class Conn {
  conn: DenoConn | null = null;
  attempt = 0;          // connect generation: a newer CONNECT abandons an older one
  reading = false;      // between READ_START and READ_STOP
  readLoop = false;     // a read is pending
  stash: (Uint8Array | null)[] = []; // reads completed after READ_STOP (null: EOF)
  ended = false;        // EOF or a read error: no more reads
  out: Uint8Array | null = null;   // WRITEs gathering for the next Deno write
  fill = 0;                        // bytes in `out`
  spare: Uint8Array | null = null; // the other buffer, while Deno is not writing from it
  held = 0;             // bytes confirmed to the core, not yet taken by Deno's write
  writing = false;
  shutdown = false;     // SHUTDOWN waits for the queue
  closing = false;      // CLOSE issued: no more inputs for this handle but onClosed
  linger: Linger | null = null; // closed for the core while still writing: see #close
  refed = true;
  noDelay: boolean | null = null;
  keepAlive: boolean | null = null;
  buf: Uint8Array | null = null;
}

export class DenoBackend extends RuntimeBackendBase implements Backend {
  readonly kind = 'deno';
  #conns = new HandleTable<Conn>();
  #listeners = new Map<number, DenoListener>();
  #unrefed = new Set<number>(); // listeners unref'd by the core
  #settling: Promise<void> | null = null; // a listener closed: Deno frees its socket a timer tick later

  abandon(): void {
    for (const c of this.#conns.values()) {
      c.closing = true;
      try { c.conn?.close(); } catch { /* closed already */ }
    }
    this.#conns.clear();
    for (const l of this.#listeners.values()) try { l.close(); } catch { /* closed already */ }
    this.#listeners.clear();
    this.timer.stop();
  }

  handleObject(h: number): object | null {
    const l = this.#listeners.get(h);
    return this.#conns.get(h)?.conn ?? (l === PENDING ? null : l) ?? null;
  }

  exec(o: Output): void {
    switch (o.op) {
      case Op.CMD_TIMER: return this.timer.set(o);
      case Op.CMD_LISTEN: return this.#listen(o);
      case Op.CMD_CONNECT: return this.#connect(o);
      case Op.CMD_OPEN: {
        const h = o.h;
        later(() => this.core.onConnect(h, ERRNO.ENOTSUP, SYSCALL.connect, 0, 0, 0, 0, '', ''));
        return;
      }
      case Op.CMD_READ_START: return this.#readStart(o.h);
      case Op.CMD_READ_STOP: { const c = this.#conns.get(o.h); if (c) c.reading = false; return; }
      case Op.CMD_WRITE: return this.#write(o.h, o.data!);
      case Op.CMD_SHUTDOWN: {
        const c = this.#conns.get(o.h);
        if (!c) return;
        c.shutdown = true;
        if (!c.writing) this.#closeWrite(o.h, c);
        return;
      }
      case Op.CMD_CLOSE: {
        const l = this.#listeners.get(o.h);
        if (l) {
          this.#listeners.delete(o.h);
          this.#unrefed.delete(o.h);
          try { l.close(); } catch { /* closed already */ }
          // Deno frees the socket (and unlinks its file) only once the pending accept is dropped,
          // a timer tick later; Node unlinks a Unix socket's file as it closes.
          const path = l.addr.transport === 'unix' ? l.addr.path : null;
          if (path) try { deno().removeSync(path); } catch { /* gone already */ }
          // Until then a connect to its port would be accepted by the dying socket and reset,
          // where Node's (closed at once) is refused: connects wait for that tick.
          const settling = this.#settling = new Promise<void>((r) => setTimeout(r, 0)).then(() => {
            if (this.#settling === settling) this.#settling = null;
          });
          return;
        }
        return this.#close(o.h, o.a === 1);
      }
      case Op.CMD_SET_OPTION: {
        const c = this.#conns.get(o.h);
        if (!c) return;
        if (o.a === Opt.NoDelay) c.noDelay = o.b !== 0;
        else if (o.a === Opt.KeepAlive) c.keepAlive = o.b !== 0; // Deno takes no initial delay
        this.#options(c);
        return;
      }
      case Op.CMD_REF: {
        const l = this.#listeners.get(o.h);
        if (l) {
          // Kept for a listener still looking its host up, applied once it listens.
          if (o.a) this.#unrefed.delete(o.h); else this.#unrefed.add(o.h);
          if (o.a) l.ref(); else l.unref();
          return;
        }
        const c = this.#conns.get(o.h);
        if (c) { c.refed = o.a !== 0; if (c.conn) { if (c.refed) c.conn.ref(); else c.conn.unref(); } }
        return;
      }
    }
  }

  #options(c: Conn): void {
    const conn = c.conn;
    if (!conn || conn.localAddr.transport !== 'tcp') return;
    if (c.noDelay !== null) conn.setNoDelay?.(c.noDelay);
    if (c.keepAlive !== null) conn.setKeepAlive?.(c.keepAlive);
  }

  // ------------------------------------------------------------ connecting

  #connect(o: Output): void {
    const h = o.h;
    const core = this.core;
    const [address, localAddress] = splitNames(o.data);
    const family = o.b;
    let c = this.#conns.get(h);
    if (c?.conn) { try { c.conn.close(); } catch { /* closed already */ } c.conn = null; }
    if (!c) { c = new Conn(); this.#conns.set(h, c); }
    const conn = c;
    const attempt = ++conn.attempt;
    // Deno.connect cannot bind a local address or port: the attempt goes out unbound.
    if (family !== 0 && (localAddress || o.c)) later(() => { if (conn.attempt === attempt && !conn.closing) core.onBound(h); });
    const go = () => family === 0
      ? deno().connect({ transport: 'unix', path: address })
      : deno().connect({ hostname: address, port: o.a });
    const pending = this.#settling ? this.#settling.then(go) : go();
    pending.then((dc) => {
      if (conn.attempt !== attempt || conn.closing) { dc.close(); return; }
      conn.conn = dc;
      if (!conn.refed) dc.unref();
      this.#options(conn);
      const l = dc.localAddr, r = dc.remoteAddr;
      core.onConnect(h, 0, 0, CREDIT, l.port ?? 0, r.port ?? 0, family,
        l.transport === 'tcp' ? l.hostname ?? '' : '', r.transport === 'tcp' ? r.hostname ?? '' : '');
    }, (err) => {
      if (conn.attempt !== attempt || conn.closing) return;
      core.onConnect(h, errnoOf(err), SYSCALL.connect, 0, 0, 0, 0, '', '');
    });
  }

  // ------------------------------------------------------------ reading

  #readStart(h: number): void {
    const c = this.#conns.get(h);
    if (!c || c.closing) return;
    c.reading = true;
    replayStash(this.core, h, c); // what a read brought after READ_STOP goes first
    if (c.reading && !c.ended && !c.readLoop && c.conn) void this.#readLoop(h, c, c.conn);
  }

  async #readLoop(h: number, c: Conn, conn: DenoConn): Promise<void> {
    c.readLoop = true;
    const buf = c.buf ??= new Uint8Array(READ_SIZE);
    try {
      while (c.reading && !c.closing && !c.ended) {
        let n: number | null;
        try {
          n = await conn.read(buf);
        } catch (err) {
          c.ended = true;
          if (!c.closing) this.core.onError(h, errnoOf(err), SYSCALL.read);
          return;
        }
        if (c.closing) return;
        if (n === null) c.ended = true;
        if (!c.reading) {
          c.stash.push(n === null ? null : buf.slice(0, n));
        } else if (n === null) {
          this.core.onEof(h);
        } else {
          this.core.onDataBorrowed(h, buf, n);
        }
      }
    } finally {
      c.readLoop = false;
    }
  }

  // ------------------------------------------------------------ writing

  #write(h: number, data: Uint8Array): void {
    const c = this.#conns.get(h);
    if (!c || c.closing || !c.conn) return;
    // Deno keeps a reference to what it writes until its promise settles: the bytes are copied
    // into the connection's own buffer, so the core's pooled buffer and the user's go back now.
    const n = data.length;
    if (c.out === null || c.fill + n > c.out.length) c.out = grow(c.out, c.fill, c.fill + n);
    c.out.set(data, c.fill);
    c.fill += n;
    c.held += n;
    this.core.release(data as Buffer);
    if (!c.writing) void this.#writeLoop(h, c, c.conn);
    this.core.onWritten(h, n, creditLeft(c.held));
  }

  /**
   * Writes what has gathered in `out`, one Deno write per batch: while one is under way, new
   * WRITEs gather in the other buffer (the two swap), so a fast writer costs one promise per
   * batch, not one per WRITE.
   */
  async #writeLoop(h: number, c: Conn, conn: DenoConn): Promise<void> {
    c.writing = true;
    while (c.fill > 0) {
      const buf = c.out!;
      const len = c.fill;
      c.out = c.spare;
      c.spare = null;
      c.fill = 0;
      try {
        for (let off = 0; off < len;) {
          off += await conn.write(buf.subarray(off, len));
          c.linger?.progress(); // the peer still takes bytes
        }
      } catch (err) {
        c.fill = 0;
        c.held = 0;
        c.writing = false;
        if (!c.closing) this.core.onError(h, errnoOf(err), SYSCALL.write);
        else if (c.linger !== null) this.#finishClose(h, c);
        return;
      }
      c.spare = buf; // Deno is done with it
      c.held -= len;
      if (!c.closing) this.core.onWritten(h, 0, creditLeft(c.held));
    }
    c.writing = false;
    if (c.linger !== null) this.#finishClose(h, c);
    else if (c.shutdown && !c.closing) this.#closeWrite(h, c);
  }

  #closeWrite(h: number, c: Conn): void {
    const conn = c.conn;
    if (!conn) return;
    c.shutdown = false;
    conn.closeWrite().then(
      () => { if (!c.closing) this.core.onShutdown(h, 0); },
      (err) => { if (!c.closing) this.core.onShutdown(h, errnoOf(err)); },
    );
  }

  // ------------------------------------------------------------ closing

  #close(h: number, reset: boolean): void {
    const c = this.#conns.get(h);
    if (!c) {
      later(() => this.core.onClosed(h));
      return;
    }
    c.closing = true;
    c.attempt++; // a connect still in flight is dropped when it settles
    if (!c.writing || reset) {
      this.#finishClose(h, c);
      return;
    }
    // Bytes confirmed to the core are still on their way into the kernel: closed for the core
    // now, written in the background (Linger; a pending Deno write keeps the process alive).
    closeLingering(this.core, this.#conns, h, c, () => this.#finishClose(h, c));
  }

  /** Closes the connection; reports CLOSED unless #close did already. */
  #finishClose(h: number, c: Conn): void {
    try { c.conn?.close(); } catch { /* closed already */ }
    c.conn = null;
    reportClosed(this.core, this.#conns, h, c);
  }

  // ------------------------------------------------------------ listening

  #listen(o: Output): void {
    const h = o.h;
    const flags = o.c;
    const address = o.data ? new TextDecoder().decode(o.data) : '';
    if (flags & (ListenFlag.Fd | ListenFlag.Handle)) {
      // (No descriptor at all — host/net passes -1 — the core refuses itself, EINVAL.)
      this.core.onListening(h, ERRNO.ENOTSUP, SYSCALL.listen, 0, 0, '');
      return;
    }
    if (flags & ListenFlag.Ipc) {
      this.#bind(h, () => deno().listen({ transport: 'unix', path: address }), address, flags);
      return;
    }
    const port = o.a;
    if (address === '') {
      // Node's default: the IPv6 any-address (dual-stack), else the IPv4 one.
      this.#bind(h, () => {
        try { return deno().listen({ hostname: '::', port }); } catch { return deno().listen({ hostname: '0.0.0.0', port }); }
      }, '::', flags);
    } else {
      // A host is looked up first, as Node's listen does (the first address), even an IP
      // literal: so listening is never reported inside listen(), as in Node.
      lookup(address, {}, (err, addr) => {
        if (!this.#listenerWanted(h)) return;
        if (err) this.core.onListening(h, errnoOf(err), SYSCALL.getaddrinfo, 0, 0, address);
        else this.#bind(h, () => deno().listen({ hostname: addr as string, port }), addr as string, flags);
      });
      this.#listeners.set(h, PENDING);
    }
  }

  /** False once the core closed listener `h` while its host name was being looked up. */
  #listenerWanted(h: number): boolean {
    if (this.#listeners.get(h) !== PENDING) return false;
    this.#listeners.delete(h);
    return true;
  }

  #bind(h: number, listen: () => DenoListener, address: string, flags: number): void {
    let l: DenoListener;
    try {
      l = listen();
    } catch (err) {
      this.core.onListening(h, errnoOf(err), SYSCALL.listen, 0, 0, address);
      return;
    }
    if (flags & ListenFlag.Ipc && flags & (ListenFlag.ReadableAll | ListenFlag.WritableAll)) {
      // Node's readableAll/writableAll: the socket file gets read/write for everyone.
      const mode = (flags & ListenFlag.ReadableAll ? 0o444 : 0) | (flags & ListenFlag.WritableAll ? 0o222 : 0);
      try { deno().chmodSync(address, ((deno().statSync(address).mode ?? 0) & 0o777) | mode); } catch { /* as libuv: best effort */ }
    }
    this.#listeners.set(h, l);
    if (this.#unrefed.has(h)) l.unref();
    const a = l.addr;
    if (a.transport === 'unix') this.core.onListening(h, 0, 0, 0, 0, a.path ?? address);
    else this.core.onListening(h, 0, 0, a.port ?? 0, familyOfAddress(a.hostname), a.hostname ?? '');
    void this.#acceptLoop(h, l);
  }

  async #acceptLoop(h: number, l: DenoListener): Promise<void> {
    for (;;) {
      let dc: DenoConn;
      try {
        dc = await l.accept();
      } catch (err) {
        if (this.#listeners.get(h) !== l) return; // closed
        this.core.onError(h, errnoOf(err), SYSCALL.accept);
        return;
      }
      if (this.#listeners.get(h) !== l) { dc.close(); return; }
      const la = dc.localAddr, ra = dc.remoteAddr;
      const tcp = la.transport === 'tcp';
      this.core.onConnection(h, CREDIT, tcp ? familyOfAddress(ra.hostname) : 0, la.port ?? 0, ra.port ?? 0,
        tcp ? la.hostname ?? '' : '', tcp ? ra.hostname ?? '' : '', (sh) => {
          const c = new Conn();
          c.conn = dc;
          this.#conns.set(sh, c);
        });
    }
  }
}

/** A write buffer with room for `need` bytes, keeping the first `fill` of `old`. */
function grow(old: Uint8Array | null, fill: number, need: number): Uint8Array {
  let size = Math.max(65536, old?.length ?? 0);
  while (size < need) size *= 2;
  const b = new Uint8Array(size);
  if (old && fill > 0) b.set(old.subarray(0, fill));
  return b;
}

/** A listener whose host name is being looked up. */
const PENDING: DenoListener = {
  addr: { transport: 'tcp' },
  accept: () => new Promise(() => {}),
  close() {},
  ref() {},
  unref() {},
};

export function createDenoBackend(): Backend {
  return new DenoBackend();
}
