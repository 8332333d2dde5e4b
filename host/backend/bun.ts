// The Bun backend: the core's commands carried out on Bun's own socket API (Bun.connect,
// Bun.listen; TCP and Unix sockets) and its handlers (open, data, drain, end, close), not on
// Bun's node:net emulation. Used by default when wasinet runs on Bun (load.ts).
//
// Bun's sockets are callback-driven and close to libuv's model:
// - reading: a socket is paused from its `open` until READ_START and again at READ_STOP
//   (socket.pause/resume). Bun delivers each read in a fresh Buffer that it never touches again,
//   so the core is offered it without a copy (Core#onData: a flowing socket hands it on as
//   'data', as the Node backend does libuv's); a read already under way when the socket pauses
//   is kept and handed over at the next READ_START, so a paused socket delivers nothing, as in Node.
// - writing: `socket.write` is a try-write: it returns how much the kernel took at once. That
//   much is confirmed at once (as libuv's try-write is in Node); the rest waits in this backend
//   and holds the credit it takes until `drain` lets it out.
// - half-close: allowHalfOpen on every socket, `shutdown()` for SHUTDOWN once the queue is out,
//   `end` for the peer's FIN. Bun skips `end` and calls `close` at once when the peer's FIN comes
//   after our own: that close counts as the FIN.
// - closing: CLOSE is `end()` (graceful) or `terminate()` (reset: RST, which Bun sends); Bun's
//   `close` handler (or the next check phase, for a socket already closed) reports onClosed.
//   Errors come with `close(socket, error)`, carrying libuv's code.
//
// What Bun's API cannot do (docs/embedding.md): bind a client socket's local address or port,
// listen with ipv6Only or on an fd or another server's handle, or wrap an existing fd.
import type { Backend } from './backend.js';
import type { Output } from '../core/core.js';
import { Op, ERRNO, SYSCALL, Opt, ListenFlag } from '../core/abi.js';
import { type BunSocket, type Handlers, type BunListener, type Where, bun } from './bun-api.js';
import { CREDIT, creditLeft, familyOfAddress, errnoOf, lookup, later, replayStash, handOver, RuntimeBackendBase } from './runtime-common.js';
import { HandleTable } from '../core/handle-table.js';
import { splitNames } from '../core/names.js';

export class Conn {
  socket: BunSocket | null = null;
  attempt = 0;          // connect generation: a newer CONNECT abandons an older one
  reading = false;      // between READ_START and READ_STOP
  stash: (Uint8Array | null)[] = []; // reads that came while paused (null: EOF)
  eof = false;
  queue: Uint8Array[] = [];   // what the kernel did not take at once
  held = 0;
  shutdown = false;     // SHUTDOWN waits for the queue
  closed = false;       // Bun closed the socket
  closing = false;      // the core issued CLOSE
  refed = true;
  constructor(readonly h: number) {}
}

export class BunBackend extends RuntimeBackendBase implements Backend {
  readonly kind = 'bun';
  #conns = new HandleTable<Conn>();
  #listeners = new Map<number, BunListener>();
  #unrefed = new Set<number>(); // listeners unref'd by the core

  abandon(): void {
    for (const c of this.#conns.values()) {
      c.closing = true;
      if (!c.closed) c.socket?.terminate();
    }
    this.#conns.clear();
    for (const l of this.#listeners.values()) l.stop(false);
    this.#listeners.clear();
    this.timer.stop();
  }

  handleObject(h: number): object | null {
    const l = this.#listeners.get(h);
    return this.#conns.get(h)?.socket ?? (l === PENDING ? null : l) ?? null;
  }

  /** The socket handlers: one set for every socket, which carries its Conn in `data`. */
  readonly #handlers: Handlers = {
    data: (s, d) => {
      const c = s.data;
      if (!c || c.closing) return;
      // Bun reads up to 512 KiB at once: handed over in pieces of Node's read size.
      handOver(this.core, c.h, c, d);
    },
    drain: (s) => { const c = s.data; if (c && !c.closing) this.#flush(c); },
    end: (s) => { const c = s.data; if (c) this.#eof(c); },
    close: (s, err) => {
      const c = s.data;
      if (!c) return;
      c.closed = true;
      if (c.closing) return;
      if (err) {
        const errno = errnoOf(err);
        this.core.onError(c.h, errno, errno === ERRNO.EPIPE ? SYSCALL.write : SYSCALL.read);
      } else {
        this.#eof(c); // the peer's FIN after our own: Bun closes without `end`
      }
    },
  };

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
      case Op.CMD_READ_STOP: {
        const c = this.#conns.get(o.h);
        if (c) { c.reading = false; if (!c.closed) c.socket?.pause(); }
        return;
      }
      case Op.CMD_WRITE: return this.#write(o.h, o.data!);
      case Op.CMD_SHUTDOWN: {
        const c = this.#conns.get(o.h);
        if (!c) return;
        c.shutdown = true;
        if (c.queue.length === 0) this.#shutdown(c);
        return;
      }
      case Op.CMD_CLOSE: {
        const l = this.#listeners.get(o.h);
        if (l) { this.#listeners.delete(o.h); this.#unrefed.delete(o.h); l.stop(false); return; }
        return this.#close(o.h, o.a === 1);
      }
      case Op.CMD_SET_OPTION: {
        const s = this.#live(o.h);
        if (!s) return;
        if (o.a === Opt.NoDelay) s.setNoDelay(o.b !== 0);
        else if (o.a === Opt.KeepAlive) s.setKeepAlive(o.b !== 0, o.c);
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
        if (c) { c.refed = o.a !== 0; const s = this.#live(o.h); if (s) { if (c.refed) s.ref(); else s.unref(); } }
        return;
      }
    }
  }

  #live(h: number): BunSocket | null {
    const c = this.#conns.get(h);
    return c && !c.closed && c.socket ? c.socket : null;
  }

  // ------------------------------------------------------------ connecting

  #connect(o: Output): void {
    const h = o.h;
    const core = this.core;
    const [address, localAddress] = splitNames(o.data);
    const family = o.b;
    const old = this.#conns.get(h);
    if (old?.socket && !old.closed) { old.socket.data = undefined; old.socket.end(); }
    const c = old ?? new Conn(h);
    c.socket = null;
    this.#conns.set(h, c);
    const attempt = ++c.attempt;
    // Bun.connect cannot bind a local address or port: the attempt goes out unbound.
    if (family !== 0 && (localAddress || o.c)) later(() => { if (c.attempt === attempt && !c.closing) core.onBound(h); });
    const where: Where = family === 0 ? { unix: address } : { hostname: address, port: o.a };
    bun().connect({ ...where, allowHalfOpen: true, socket: this.#handlers }).then((s) => {
      if (c.attempt !== attempt || c.closing) { s.data = undefined; s.end(); return; } // a FIN, as libuv's close
      s.pause(); // nothing is read until READ_START
      s.data = c;
      c.socket = s;
      if (!c.refed) s.unref();
      core.onConnect(h, 0, 0, CREDIT, s.localPort ?? 0, s.remotePort ?? 0, family,
        family === 0 ? '' : s.localAddress ?? '', family === 0 ? '' : s.remoteAddress ?? '');
    }, (err) => {
      if (c.attempt !== attempt || c.closing) return;
      core.onConnect(h, errnoOf(err), SYSCALL.connect, 0, 0, 0, 0, '', '');
    });
  }

  // ------------------------------------------------------------ reading

  #readStart(h: number): void {
    const c = this.#conns.get(h);
    if (!c || c.closing) return;
    c.reading = true;
    replayStash(this.core, h, c);
    if (c.reading && !c.closed) c.socket?.resume();
  }

  #eof(c: Conn): void {
    if (c.eof || c.closing) return;
    c.eof = true;
    if (c.reading && c.stash.length === 0) this.core.onEof(c.h);
    else c.stash.push(null);
  }

  // ------------------------------------------------------------ writing

  #write(h: number, data: Uint8Array): void {
    const c = this.#conns.get(h);
    if (!c || c.closing || !c.socket) return;
    const s = c.socket;
    if (c.closed) {
      // Bun closed the socket when the peer went away (it does for a Unix socket even with
      // allowHalfOpen): a write fails as the kernel would fail it.
      this.core.onError(h, ERRNO.EPIPE, SYSCALL.write);
      return;
    }
    let n = 0;
    if (c.queue.length === 0) {
      n = s.write(data);
      if (n < 0) {
        // Bun has closed the socket under us (the peer went away): a failed write, as libuv reports it.
        this.core.onError(h, ERRNO.EPIPE, SYSCALL.write);
        return;
      }
      if (n === data.length) {
        this.core.release(data as Buffer);
        this.core.onWritten(h, n, CREDIT); // taken at once: confirmed now, as libuv's try-write
        return;
      }
    }
    // Bun copies what it takes; the rest waits here, not copied: the caller's buffer is not
    // theirs to reuse until the write completes (libuv holds it the same way), and a pooled one
    // goes back to the core once written.
    const rest = n === 0 ? data : data.subarray(n);
    c.queue.push(rest);
    c.held += rest.length;
    this.core.onWritten(h, n, creditLeft(c.held));
  }

  /** `drain`: the kernel takes more; what it takes is confirmed and frees credit. */
  #flush(c: Conn): void {
    const s = c.socket!;
    let flushed = 0;
    while (c.queue.length > 0) {
      const chunk = c.queue[0];
      const n = Math.max(0, s.write(chunk));
      flushed += n;
      c.held -= n;
      if (n < chunk.length) { c.queue[0] = chunk.subarray(n); break; }
      c.queue.shift();
      this.core.release(chunk as Buffer);
    }
    if (flushed > 0) this.core.onWritten(c.h, flushed, creditLeft(c.held));
    if (c.queue.length === 0 && c.shutdown && !c.closing) this.#shutdown(c);
  }

  #shutdown(c: Conn): void {
    c.shutdown = false;
    if (!c.closed) c.socket?.shutdown();
    const h = c.h;
    // Bun sends the FIN at once; libuv reports its shutdown from the same poll phase, before the
    // loop's check and close phases: a microtask is the nearest equivalent.
    queueMicrotask(() => { if (!c.closing) this.core.onShutdown(h, 0); });
  }

  // ------------------------------------------------------------ closing

  #close(h: number, reset: boolean): void {
    const c = this.#conns.get(h);
    if (!c) { later(() => this.core.onClosed(h)); return; }
    c.closing = true;
    c.attempt++; // a connect still in flight is dropped when it settles
    const s = c.socket;
    if (s && !c.closed) {
      s.data = undefined; // Bun's own close handler has nothing more to report
      if (reset) s.terminate();
      else s.end();
    }
    this.#closed(c); // from the next check phase, as libuv's close callback
  }

  #closed(c: Conn): void {
    if (this.#conns.get(c.h) !== c) return;
    this.#conns.delete(c.h);
    const h = c.h;
    later(() => this.core.onClosed(h));
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
      this.#bind(h, { unix: address }, address);
      return;
    }
    const port = o.a;
    if (address === '') {
      this.#bind(h, { hostname: '::', port }, '::');
      return;
    }
    // A host is looked up first, as Node's listen does (the first address), even an IP
    // literal: so listening is never reported inside listen(), as in Node.
    this.#listeners.set(h, PENDING);
    lookup(address, {}, (err, addr) => {
      if (this.#listeners.get(h) !== PENDING) return; // closed meanwhile
      this.#listeners.delete(h);
      if (err) this.core.onListening(h, errnoOf(err), SYSCALL.getaddrinfo, 0, 0, address);
      else this.#bind(h, { hostname: addr as string, port }, addr as string);
    });
  }

  #bind(h: number, where: Where, address: string): void {
    let l: BunListener;
    const handlers: Handlers = {
      ...this.#handlers,
      open: (s) => {
        s.pause(); // nothing is read until READ_START
        const tcp = !('unix' in where);
        const sh = this.core.onConnection(h, CREDIT, tcp ? familyOfAddress(s.remoteAddress) : 0,
          tcp ? s.localPort ?? 0 : 0, tcp ? s.remotePort ?? 0 : 0,
          tcp ? s.localAddress ?? '' : '', tcp ? s.remoteAddress ?? '' : '', (sh) => {
            const c = new Conn(sh);
            c.socket = s;
            s.data = c;
            this.#conns.set(sh, c);
          });
        if (sh <= 0) s.terminate();
      },
    };
    try {
      l = bun().listen({ ...where, allowHalfOpen: true, socket: handlers });
    } catch (err) {
      this.core.onListening(h, errnoOf(err), SYSCALL.listen, 0, 0, address);
      return;
    }
    this.#listeners.set(h, l);
    if (this.#unrefed.has(h)) l.unref();
    if ('unix' in where) this.core.onListening(h, 0, 0, 0, 0, where.unix);
    else this.core.onListening(h, 0, 0, l.port ?? 0, familyOfAddress(l.hostname), l.hostname ?? address);
  }
}

/** A listener whose host is being looked up. */
const PENDING: BunListener = { stop() {}, ref() {}, unref() {} };

export function createBunBackend(): Backend {
  return new BunBackend();
}
