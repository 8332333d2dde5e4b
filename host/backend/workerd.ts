// The workerd backend: the core's commands carried out on Cloudflare's socket API
// (`connect()` from 'cloudflare:sockets': TCP client sockets over web streams), in workerd or
// Cloudflare Workers. Used by default there once the bundle imports 'wasinet/workerd'
// (host/workerd.ts), which hands this module `connect` (there is no global for it).
//
// A socket is three promises and two streams, so the backend runs a small loop per direction:
// - connecting: `connect({ hostname, port }, { allowHalfOpen: true })`, then `opened` gives the
//   remote address ("host:port"); workerd gives no local address, so localAddress/localPort are
//   undefined. A refused or unreachable address rejects `opened` with a plain Error whose
//   message is all there is: mapped to ECONNREFUSED (workerdErrno below).
// - reading: between READ_START and READ_STOP one `reader.read()` is pending. Each chunk is the
//   reader's own (a stream never reuses what it handed out), so the core is offered it without a
//   copy (Core#onData), in pieces of at most 64 KiB (Node's read size). A read cannot be
//   cancelled: what completes after READ_STOP is kept and handed over at the next READ_START, so
//   a paused socket delivers nothing, as in Node (the Deno backend's rule).
// - writing: credit is what the stream has taken. A WRITE is copied (the core's buffer goes
//   back at once), given to `writer.write` and confirmed at once with the credit shrunk by what
//   the stream holds (1 MiB in all); each write that completes gives its credit back.
//   SHUTDOWN is `writer.close()` (FIN after everything queued, the readable stays open:
//   allowHalfOpen), and a graceful CLOSE waits for the queued writes before `socket.close()`.
// - closing: CLOSE is `socket.close()`, reported with onClosed from the next check phase.
//
// What the API cannot do, and how it fails (docs/embedding.md): there is no listen (LISTEN
// fails with ENOTSUP, so `server.listen()` emits 'error' with `listen ENOTSUP`), no Unix socket
// and no fd (CONNECT of a path and OPEN fail with ENOTSUP), no local bind (the attempt goes out
// unbound, as on Deno and Bun), no reset (a reset is a plain close), and no socket options or
// ref/unref (SET_OPTION and REF are ignored: setNoDelay/setKeepAlive return the socket, as Node's
// do on a handle without the option).
import type { Backend, LookupCallback, LookupOptions } from './backend.js';
import type { Output } from '../core/core.js';
import { Op, ERRNO, SYSCALL } from '../core/abi.js';
import type { WorkerdConnect, WorkerdReader, WorkerdSocket, WorkerdWriter } from './workerd-api.js';
import { CREDIT, creditLeft, familyOfAddress, errnoOf, lookup, later, replayStash, handOver, RuntimeBackendBase, type Linger, closeLingering, reportClosed } from './runtime-common.js';
import { HandleTable } from '../core/handle-table.js';
import { splitNames } from '../core/names.js';

class Conn {
  socket: WorkerdSocket | null = null;
  reader: WorkerdReader | null = null;
  writer: WorkerdWriter | null = null;
  attempt = 0;          // connect generation: a newer CONNECT abandons an older one
  reading = false;      // between READ_START and READ_STOP
  readLoop = false;     // a read is pending
  stash: (Uint8Array | null)[] = []; // reads completed after READ_STOP (null: EOF)
  ended = false;        // EOF or a read error: no more reads
  held = 0;             // bytes confirmed to the core, not yet taken by the stream
  writes = 0;           // writes under way
  failed = false;       // a write failed: reported once
  closing = false;      // CLOSE issued: no more inputs for this handle but onClosed
  linger: Linger | null = null; // closed for the core while still writing: see #close
}

export class WorkerdBackend extends RuntimeBackendBase implements Backend {
  readonly kind = 'workerd';
  #conns = new HandleTable<Conn>();

  constructor(private readonly connect: WorkerdConnect) {
    super();
  }

  abandon(): void {
    for (const c of this.#conns.values()) {
      c.closing = true;
      void c.socket?.close().catch(() => {});
    }
    this.#conns.clear();
    this.timer.stop();
  }

  handleObject(h: number): object | null {
    return this.#conns.get(h)?.socket ?? null;
  }

  /** workerd resolves nothing locally (its node:dns asks a DNS-over-HTTPS service): localhost is the loopback. */
  override lookup(host: unknown, options: LookupOptions, callback: LookupCallback): void {
    if (host !== 'localhost') return lookup(host, options, callback);
    const v6 = options.family === 6 || options.family === 'IPv6';
    const address = v6 ? '::1' : '127.0.0.1';
    const family = v6 ? 6 : 4;
    queueMicrotask(() => {
      if (options.all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    });
  }

  exec(o: Output): void {
    switch (o.op) {
      case Op.CMD_TIMER: return this.timer.set(o);
      case Op.CMD_LISTEN:
        // No server sockets in workerd: the closest of Node's failures is the OS refusing the
        // operation on this kind of socket.
        this.core.onListening(o.h, ERRNO.ENOTSUP, SYSCALL.listen, 0, 0, o.data ? new TextDecoder().decode(o.data) : '');
        return;
      case Op.CMD_CONNECT: return this.#connect(o);
      case Op.CMD_OPEN: {
        const h = o.h;
        later(() => this.core.onConnect(h, ERRNO.ENOTSUP, SYSCALL.connect, 0, 0, 0, 0, '', ''));
        return;
      }
      case Op.CMD_READ_START: return this.#readStart(o.h);
      case Op.CMD_READ_STOP: { const c = this.#conns.get(o.h); if (c) c.reading = false; return; }
      case Op.CMD_WRITE: return this.#write(o.h, o.data!);
      case Op.CMD_SHUTDOWN: return this.#shutdown(o.h);
      case Op.CMD_CLOSE: return this.#close(o.h, o.a === 1);
      case Op.CMD_SET_OPTION: // no TCP_NODELAY or keep-alive to set
      case Op.CMD_REF:        // a request's I/O keeps it alive, whatever the socket says
        return;
    }
  }

  // ------------------------------------------------------------ connecting

  #connect(o: Output): void {
    const h = o.h;
    const core = this.core;
    const [address, localAddress] = splitNames(o.data);
    const family = o.b;
    let c = this.#conns.get(h);
    if (c?.socket) { void c.socket.close().catch(() => {}); c.socket = c.reader = c.writer = null; }
    if (!c) { c = new Conn(); this.#conns.set(h, c); }
    const conn = c;
    const attempt = ++conn.attempt;
    if (family === 0) {
      // No Unix sockets: the connect fails as one to an unsupported kind of address.
      later(() => { if (conn.attempt === attempt && !conn.closing) core.onConnect(h, ERRNO.ENOTSUP, SYSCALL.connect, 0, 0, 0, 0, '', ''); });
      return;
    }
    // connect() cannot bind a local address or port: the attempt goes out unbound.
    if (localAddress || o.c) later(() => { if (conn.attempt === attempt && !conn.closing) core.onBound(h); });
    let socket: WorkerdSocket;
    try {
      socket = this.connect({ hostname: address, port: o.a }, { allowHalfOpen: true, secureTransport: 'off' });
    } catch (err) {
      later(() => { if (conn.attempt === attempt && !conn.closing) core.onConnect(h, workerdErrno(err, ERRNO.ECONNREFUSED), SYSCALL.connect, 0, 0, 0, 0, '', ''); });
      return;
    }
    socket.opened.then((info) => {
      if (conn.attempt !== attempt || conn.closing) { void socket.close().catch(() => {}); return; }
      conn.socket = socket;
      conn.reader = socket.readable.getReader();
      conn.writer = socket.writable.getWriter();
      const remote = splitHostPort(info?.remoteAddress) ?? [address, o.a];
      const local = splitHostPort(info?.localAddress) ?? ['', 0];
      core.onConnect(h, 0, 0, CREDIT, local[1], remote[1], familyOfAddress(remote[0]) || family, local[0], remote[0]);
    }, (err) => {
      if (conn.attempt !== attempt || conn.closing) return;
      core.onConnect(h, workerdErrno(err, ERRNO.ECONNREFUSED), SYSCALL.connect, 0, 0, 0, 0, '', '');
    });
  }

  // ------------------------------------------------------------ reading

  #readStart(h: number): void {
    const c = this.#conns.get(h);
    if (!c || c.closing) return;
    c.reading = true;
    replayStash(this.core, h, c); // what a read brought after READ_STOP goes first
    if (c.reading && !c.ended && !c.readLoop && c.reader) void this.#readLoop(h, c, c.reader);
  }

  async #readLoop(h: number, c: Conn, reader: WorkerdReader): Promise<void> {
    c.readLoop = true;
    try {
      while (c.reading && !c.closing && !c.ended) {
        let r: { done: boolean; value?: Uint8Array };
        try {
          r = await reader.read();
        } catch (err) {
          c.ended = true;
          if (!c.closing) this.core.onError(h, workerdErrno(err, ERRNO.ECONNRESET), SYSCALL.read);
          return;
        }
        if (c.closing) return;
        if (r.done) {
          c.ended = true;
          if (c.reading) this.core.onEof(h);
          else c.stash.push(null);
          continue;
        }
        handOver(this.core, h, c, r.value!);
      }
    } finally {
      c.readLoop = false;
    }
  }

  // ------------------------------------------------------------ writing

  #write(h: number, data: Uint8Array): void {
    const c = this.#conns.get(h);
    if (!c || c.closing || !c.writer) return;
    // The stream keeps what it is given until the write completes: a copy, so the core's pooled
    // buffer and the user's go back now.
    const n = data.length;
    const copy = data.slice();
    this.core.release(data as Buffer);
    c.held += n;
    c.writes++;
    c.writer.write(copy).then(() => {
      c.writes--;
      c.held -= n;
      if (!c.closing) this.core.onWritten(h, 0, creditLeft(c.held));
      else if (c.linger !== null && c.writes === 0) this.#finishClose(h, c);
      else c.linger?.progress(); // the peer still takes bytes
    }, (err) => {
      c.writes--;
      c.held -= n;
      if (!c.closing && !c.failed) {
        c.failed = true;
        this.core.onError(h, workerdErrno(err, ERRNO.EPIPE), SYSCALL.write);
      } else if (c.linger !== null && c.writes === 0) this.#finishClose(h, c);
    });
    this.core.onWritten(h, n, creditLeft(c.held));
  }

  #shutdown(h: number): void {
    const c = this.#conns.get(h);
    if (!c || c.closing || !c.writer) return;
    // close() waits for the queued writes, then sends FIN; the readable stays open (allowHalfOpen).
    c.writer.close().then(
      () => { if (!c.closing) this.core.onShutdown(h, 0); },
      (err) => { if (!c.closing) this.core.onShutdown(h, workerdErrno(err, ERRNO.EPIPE)); },
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
    // There is no reset: a reset is a plain close.
    if (c.writes === 0 || reset) {
      this.#finishClose(h, c);
      return;
    }
    // Bytes confirmed to the core are still in the stream: closed for the core now, written in
    // the background while the peer takes them (Linger).
    closeLingering(this.core, this.#conns, h, c, () => this.#finishClose(h, c));
  }

  /** Closes the connection; reports CLOSED unless #close did already. */
  #finishClose(h: number, c: Conn): void {
    void c.socket?.close().catch(() => { /* closed already */ });
    c.socket = c.reader = c.writer = null;
    reportClosed(this.core, this.#conns, h, c);
  }
}

/** ["127.0.0.1", 80] from "127.0.0.1:80", ["::1", 80] from "[::1]:80"; null when absent. */
function splitHostPort(s: string | undefined): [string, number] | null {
  if (!s) return null;
  const i = s.lastIndexOf(':');
  if (i < 0) return [s, 0];
  const host = s.slice(0, i);
  return [host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, Number(s.slice(i + 1)) || 0];
}

/**
 * The ABI errno of a workerd socket error. Its errors carry no code, only a message: "cannot
 * connect to the specified address" (refused, unreachable or not allowed by the network
 * service), "Network connection lost" (reset); anything else is the operation's `fallback`.
 */
export function workerdErrno(err: unknown, fallback: number): number {
  const known = errnoOf(err);
  if (known !== ERRNO.UNKNOWN) return known;
  const m = String((err as { message?: unknown } | null)?.message ?? err);
  if (/cannot connect|connection refused/i.test(m)) return ERRNO.ECONNREFUSED;
  if (/connection lost|reset/i.test(m)) return ERRNO.ECONNRESET;
  if (/timed out/i.test(m)) return ERRNO.ETIMEDOUT;
  return fallback;
}

/** A backend on `connect` from 'cloudflare:sockets' (only workerd has it: host/workerd.ts passes it). */
export function createWorkerdBackend(connect?: WorkerdConnect): Backend {
  if (typeof connect !== 'function') {
    throw new Error("wasinet: the workerd backend needs connect() from 'cloudflare:sockets': import 'wasinet/workerd' in a worker");
  }
  return new WorkerdBackend(connect);
}
