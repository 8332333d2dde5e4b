// One end of a simulated connection: the kernel's model of it, per direction.
//
// A send buffer (WRITE puts bytes in it and is confirmed at once, credit is its free space),
// bytes in flight towards the peer (each arrival after the latency, never reordered: `wire`),
// and the receive buffer, delivered to the core in chunks of a seeded size while it reads. FIN
// follows the last byte. Closing with a graceful CLOSE sends FIN; bytes that reach a closed end
// answer with RST, which the other end sees as ECONNRESET (reading) or EPIPE (writing).
//
// An end's life is one EndState, changed only through setState; each direction's FIN has its
// own small state (Sending, Receiving). The remaining booleans are not states: `reading` is the
// core's READ_START/STOP, and the three `*Scheduled` flags keep one pending event per job.
// Every report goes to the core of the stack that holds the end (its owner), read when the
// report is made: after a trap, a fresh core replaces the old one.
import type { Core } from '../../core/core.js';
import { ERRNO, SYSCALL } from '../../core/abi.js';
import type { SimNetwork } from './network.js';

/** Who holds an end: the backend whose core it reports to. */
export interface EndOwner {
  readonly core: Core;
}

/**
 * Where an end is in its life: two questions in one enum, what its core knows (connecting, open,
 * closed) and whether the connection was reset. The order matters: closed() is `>= Closed`.
 */
export const enum EndState {
  /** A client end whose connect the core has not heard of yet. */
  Connecting = 0,
  /** Reset before its connect was reported: the core sees 'connect', then the reset. */
  ResetConnecting = 1,
  /** Its core holds it; traffic flows. */
  Open = 2,
  /** Reset (RST sent or received): no more traffic; its core still holds it. */
  Reset = 3,
  /** Its core closed it (or gave up on it): queued bytes and FIN still leave; bytes that arrive answer RST. */
  Closed = 4,
  /** Closed and reset: nothing more happens. */
  Gone = 5,
}

/** This end's FIN. */
export const enum Sending {
  Open = 0,
  /** SHUTDOWN or CLOSE asked for it: it follows the send buffer's last byte. */
  FinQueued = 1,
  FinSent = 2,
}

/** The peer's FIN. */
export const enum Receiving {
  Open = 0,
  /** Arrived, after the peer's last byte; not yet handed to the core. */
  FinArrived = 1,
  /** Handed to the core (EOF): nothing more is read. */
  EofReported = 2,
}

export class End {
  peer: End | null = null;
  state: EndState;
  sending = Sending.Open;
  receiving = Receiving.Open;
  sendq: Buffer[] = [];   // in the send buffer, not yet on the wire
  inSnd = 0;
  rcv: Buffer[] = [];     // arrived, not yet read by the core
  rcvBytes = 0;
  inFlight = 0;           // bytes on their way to this end
  wire: { at: number; piece: Buffer | null }[] = []; // in order: bytes, then null for FIN
  wireAt = 0;             // arrival time of the last thing put on the wire to this end
  reading = false;        // the core reads (READ_START, until READ_STOP)
  wireScheduled = false;  // the next arrival on `wire` is scheduled
  deliverScheduled = false;
  pumpScheduled = false;

  constructor(readonly net: SimNetwork, readonly owner: EndOwner, public h: number,
    public local: { address: string; port: number }, public remote: { address: string; port: number },
    public family: number, state: EndState) {
    this.state = state;
  }

  /** Every change of an end's life goes through here. */
  setState(s: EndState): void {
    this.state = s;
  }

  /** Its core closed it (or never will hear of it again). */
  get closed(): boolean {
    return this.state >= EndState.Closed;
  }

  /** Reset: no more traffic. */
  get broken(): boolean {
    return this.state === EndState.ResetConnecting || this.state === EndState.Reset || this.state === EndState.Gone;
  }

  /** Its core heard of the connection and still holds it. */
  get connected(): boolean {
    return this.state === EndState.Open || this.state === EndState.Reset;
  }

  /** The client's core was told it is connected. */
  markConnected(): void {
    this.setState(this.broken ? EndState.Reset : EndState.Open);
  }

  /** Dropped without a word (its handle reused, its stack gone): nothing more happens. */
  drop(): void {
    this.setState(EndState.Gone);
  }

  #queueFin(): void {
    if (this.sending === Sending.Open) this.sending = Sending.FinQueued;
  }

  readStart(): void {
    this.reading = true;
    this.deliver();
  }

  readStop(): void {
    this.reading = false;
  }

  /** WRITE (on an end its core holds and has not closed). */
  write(data: Buffer): void {
    const h = this.h;
    if (this.broken) {
      this.net.schedule(0, () => { if (!this.closed) this.owner.core.onError(h, ERRNO.EPIPE, SYSCALL.write); });
      return;
    }
    if (this.family === 0 && this.peer && this.peer.closed) {
      this.owner.core.onError(h, ERRNO.EPIPE, SYSCALL.write); // a Unix socket knows its peer is gone
      return;
    }
    if (data.length === 0) { // a write of nothing: taken at once, nothing on the wire
      this.owner.core.onWritten(h, 0, Math.max(0, this.net.options.sndbuf - this.inSnd));
      return;
    }
    // The network keeps its own copy (bytes wait in buffers and on the wire), so the core's
    // pooled buffer goes back at once.
    this.sendq.push(Buffer.from(data));
    this.owner.core.release(data);
    this.inSnd += data.length;
    // Into the send buffer at once, like a kernel write: confirmed, credit is what is left.
    this.owner.core.onWritten(h, data.length, Math.max(0, this.net.options.sndbuf - this.inSnd));
    this.pump();
  }

  /** SHUTDOWN (on an end its core holds and has not closed): FIN after the send buffer drains. */
  shutdown(): void {
    if (this.broken) {
      const h = this.h;
      this.net.schedule(0, () => { if (!this.closed) this.owner.core.onShutdown(h, ERRNO.ENOTCONN); });
      return;
    }
    this.#queueFin();
    this.pump();
  }

  /** CLOSE: an explicit reset, or closing with unread data (as Linux does), sends RST; else FIN. */
  close(reset: boolean): void {
    this.setState(this.broken ? EndState.Gone : EndState.Closed);
    this.reading = false;
    if (reset || this.rcvBytes > 0) {
      this.reset();
    } else if (this.sending !== Sending.FinSent && !this.broken) {
      this.#queueFin();
      this.pump();
    }
  }

  /**
   * Given up on (timeout, destroy) after the kernel completed the handshake, before its core
   * heard: closing the socket sends FIN.
   */
  giveUp(): void {
    this.setState(this.broken ? EndState.Gone : EndState.Closed);
    if (!this.broken) { this.#queueFin(); this.pump(); }
  }

  /** Moves bytes from the send buffer onto the wire, as far as the receiver has room. */
  pump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    const net = this.net;
    net.schedule(0, () => {
      this.pumpScheduled = false;
      const peer = this.peer;
      if (this.broken || !peer) return;
      let room = net.options.rcvbuf - peer.rcvBytes - peer.inFlight;
      let moved = 0;
      while (this.sendq.length > 0 && room > 0) {
        const head = this.sendq[0];
        const n = Math.min(head.length, room, net.chunkSize());
        const piece = head.subarray(0, n);
        if (n === head.length) this.sendq.shift();
        else this.sendq[0] = head.subarray(n);
        this.inSnd -= n;
        room -= n;
        moved += n;
        peer.inFlight += n;
        net.stats.bytes += n;
        peer.#transmit(piece);
      }
      if (moved > 0 && !this.closed && this.h) {
        const credit = Math.max(0, net.options.sndbuf - this.inSnd);
        this.owner.core.onWritten(this.h, 0, credit);
      }
      if (this.sendq.length > 0) return; // wait for room: deliver() pumps the peer again
      if (this.sending === Sending.FinQueued) this.#sendFin();
    });
  }

  /**
   * Puts bytes (or FIN, as null) on the wire towards this end. A connection never reorders: each
   * arrival is at or after the previous one, and they are handled one at a time, in order.
   */
  #transmit(piece: Buffer | null): void {
    const net = this.net;
    this.wireAt = Math.max(this.wireAt, net.now + net.latency());
    this.wire.push({ at: this.wireAt, piece });
    this.#wireKick();
  }

  #wireKick(): void {
    if (this.wireScheduled || this.wire.length === 0) return;
    this.wireScheduled = true;
    const net = this.net;
    net.schedule(this.wire[0].at - net.now, () => {
      this.wireScheduled = false;
      const next = this.wire.shift();
      if (next === undefined) return; // reset meanwhile: the wire was cleared
      const piece = next.piece;
      if (piece !== null) {
        this.#arrive(piece);
      } else if (!this.broken) {
        if (this.receiving === Receiving.Open) this.receiving = Receiving.FinArrived;
        this.deliver();
      }
      this.#wireKick();
    });
  }

  #sendFin(): void {
    this.sending = Sending.FinSent;
    this.net.stats.fins++;
    const peer = this.peer;
    if (peer && !peer.broken) peer.#transmit(null);
    if (!this.closed && this.h) {
      const h = this.h;
      this.net.schedule(0, () => { if (!this.closed) this.owner.core.onShutdown(h, 0); });
    }
  }

  #arrive(piece: Buffer): void {
    this.inFlight -= piece.length;
    if (this.broken) return;
    if (this.closed) {
      // Data for a closed socket: the kernel answers with RST.
      if (this.peer) this.reset();
      return;
    }
    this.rcv.push(piece);
    this.rcvBytes += piece.length;
    this.deliver();
  }

  /** Hands received bytes (then EOF) to the core while it reads, one chunk per event. */
  deliver(): void {
    if (this.deliverScheduled || !this.reading || this.closed || this.broken) return;
    if (this.rcv.length === 0 && this.receiving !== Receiving.FinArrived) return;
    this.deliverScheduled = true;
    const net = this.net;
    net.schedule(0, () => {
      this.deliverScheduled = false;
      if (!this.reading || this.closed || this.broken) return;
      if (this.rcv.length > 0) {
        if (net.rng.chance(net.options.reset)) {
          net.stats.injectedResets++;
          this.peer!.reset();
          this.reset();
          return;
        }
        const want = net.chunkSize();
        const parts: Buffer[] = [];
        let n = 0;
        while (this.rcv.length > 0 && n < want) {
          const head = this.rcv[0];
          const take = Math.min(head.length, want - n);
          parts.push(head.subarray(0, take));
          if (take === head.length) this.rcv.shift();
          else this.rcv[0] = head.subarray(take);
          n += take;
        }
        this.rcvBytes -= n;
        net.stats.chunks++;
        this.owner.core.onData(this.h, parts.length === 1 ? parts[0] : Buffer.concat(parts));
        if (this.peer) this.peer.pump(); // room freed: the sender may move on
      } else if (this.receiving === Receiving.FinArrived) {
        this.receiving = Receiving.EofReported;
        this.owner.core.onEof(this.h);
      }
      this.deliver();
    });
  }

  /** The connection is reset: this end reports ECONNRESET (if its core still holds it). */
  reset(): void {
    if (this.broken) return;
    switch (this.state) {
      case EndState.Connecting: this.setState(EndState.ResetConnecting); break; // told after 'connect'
      case EndState.Closed: this.setState(EndState.Gone); break;
      default: this.setState(EndState.Reset);
    }
    this.rcv = [];
    this.rcvBytes = 0;
    this.sendq = [];
    this.wire = [];
    this.inFlight = 0;
    const net = this.net;
    net.stats.resets++;
    const peer = this.peer;
    if (peer && !peer.broken) {
      net.schedule(net.latency(), () => peer.reset());
    }
    if (!this.closed && this.h && this.connected) {
      // After the peer's FIN nothing more is read: the reset shows on the next write (EPIPE).
      const h = this.h;
      const [errno, op] = this.receiving !== Receiving.Open ? [ERRNO.EPIPE, SYSCALL.write] : [ERRNO.ECONNRESET, SYSCALL.read];
      net.schedule(0, () => { if (!this.closed) this.owner.core.onError(h, errno, op); });
    }
  }
}
