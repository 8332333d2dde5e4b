// What the core keeps per socket and per listener, the single `setState` choke point, and the
// predicates derived from the state. Transitions live in socket.ts and listener.ts.
import { State, LState } from "./abi";
import { ByteQueue } from "./queue";
import { Timer } from "./timers";

/** A resolved address to try: family 4 or 6 and its text. */
export class Addr {
  constructor(public family: i32, public text: ArrayBuffer) {}
}

/** The addresses of a socket that is not connecting (shared; never added to). */
export const NO_ADDRS: Addr[] = [];

export class Sock {
  state: State = State.Idle;
  server: u32 = 0; // the listener that accepted it, 0 for a client socket

  // Send side. `accepted` counts bytes taken from the host, `sent` bytes handed to the
  // transport, `flushed` bytes the transport confirmed; each write request ends at a mark.
  _sendQ: ByteQueue | null = null; // made when first needed (see `sendQ`): an idle socket holds none
  credit: f64 = 0;
  accepted: f64 = 0;
  sent: f64 = 0;
  flushed: f64 = 0;
  _marks: f64[] | null = null;
  blocked: bool = false; // the host holds bytes we refused: it is owed WRITABLE
  blockedSize: u32 = 0;  // the queue's size when we refused (WRITABLE once it drained below)
  wroteIn: u32 = 0;      // the input (epoch) that last emitted a WRITE for this socket
  inTurn: bool = false;  // wrote since the last apiFlush: further small writes wait for it

  // Receive side. `reading`: READ_START is in force. `wantRead`: the consumer asked for data
  // and has not paused since. Bytes that arrive while it does not want them wait in recvQ.
  _recvQ: ByteQueue | null = null;
  reading: bool = false;
  wantRead: bool = false;
  // `readMax` > 0: the consumer reads into a buffer of its own (Node's `onread`) and takes one
  // DATA of at most readMax bytes per apiRead (a pull); what does not fit waits in recvQ.
  readMax: u32 = 0;
  eofDelivered: bool = false;
  bytesRead: f64 = 0;

  idleMs: f64 = 0;
  _idle: Timer | null = null;
  _attemptTimer: Timer | null = null;

  // Connecting: where to, and which resolved address is being tried.
  port: i32 = 0;
  localPort: i32 = 0;
  localAddr: ArrayBuffer | null = null;
  addrs: Addr[] = NO_ADDRS; // only while connecting
  attempt: i32 = 0;
  attemptMs: f64 = 250;
  multi: bool = false; // several addresses: autoSelectFamily's attempts
  announced: bool = false; // CONNECT_ATTEMPT emitted for the current attempt

  refed: bool = true;
  ipc: bool = false;     // a Unix socket or pipe: no socket options
  hadError: bool = false; // destroyed with an error: CLOSED says so
  counted: bool = false;  // counts against the stack's `sockets` limit until CLOSED
  wired: bool = false;    // a CONNECT or OPEN went to the transport: it knows this handle
  noDelay: bool = false;
  keepAlive: bool = false;
  keepAliveDelay: f64 = 0;

  constructor(public id: u32) {}

  // What a socket needs only while it uses it is made on first use; the size getters do not
  // make it. (An idle connection costs a few hundred bytes of the core's memory.)
  get sendQ(): ByteQueue { let q = this._sendQ; if (q === null) { q = new ByteQueue(); this._sendQ = q; } return q; }
  get recvQ(): ByteQueue { let q = this._recvQ; if (q === null) { q = new ByteQueue(); this._recvQ = q; } return q; }
  @inline get marks(): f64[] { let m = this._marks; if (m === null) { m = []; this._marks = m; } return m; }
  get idle(): Timer { let t = this._idle; if (t === null) { t = new Timer(); this._idle = t; } return t; }
  get attemptTimer(): Timer { let t = this._attemptTimer; if (t === null) { t = new Timer(); this._attemptTimer = t; } return t; }
  /** Bytes in the send queue. */
  @inline get sendSize(): u32 { let q = this._sendQ; return q === null ? 0 : q.size; }
  /** Bytes in the receive buffer. */
  @inline get recvSize(): u32 { let q = this._recvQ; return q === null ? 0 : q.size; }
  /** Write requests not yet complete. */
  @inline get pendingRequests(): i32 { let m = this._marks; return m === null ? 0 : m.length; }
  get idleAt(): f64 { let t = this._idle; return t === null ? Infinity : t.at; }
  get attemptAt(): f64 { let t = this._attemptTimer; return t === null ? Infinity : t.at; }

  /** Gives up the queues' bytes and the timers. */
  dropAll(): void {
    if (this._sendQ !== null) this._sendQ!.clear();
    if (this._recvQ !== null) this._recvQ!.clear();
    if (this._idle !== null) this._idle!.disarm();
    if (this._attemptTimer !== null) this._attemptTimer!.disarm();
  }

  setState(s: State): void {
    this.state = s;
  }

  /** A transport exists (CONNECT issued or accepted) and CLOSE has not been issued. */
  hasTransport(): bool { return this.state >= State.Connecting && this.state <= State.Done; }

  @inline connected(): bool { return this.state >= State.Open && this.state <= State.Done; }

  /** New bytes may be queued: the write side is open and end() has not been called. */
  @inline maySend(): bool { return this.state == State.Open || this.state == State.ReadEnded; }

  /** The peer has not ended its side and we still read. */
  mayRecv(): bool {
    return this.state == State.Open || this.state == State.Ending ||
      this.state == State.FinWait || this.state == State.WriteEnded;
  }

  readEnded(): bool {
    return this.state == State.ReadEnded || this.state == State.LastEnding ||
      this.state == State.LastAck || this.state == State.Done;
  }

  /** end() was called and the FIN waits for the send queue to drain. */
  ending(): bool { return this.state == State.Ending || this.state == State.LastEnding; }
}

export class Listener {
  state: LState = LState.Binding;
  count: i32 = 0;       // accepted sockets not yet destroyed
  maxConnections: f64 = 0; // 0 = no limit
  refed: bool = true;
  counted: bool = false;   // binding or listening: counts against the stack's `listeners` limit
  constructor(public id: u32) {}

  /** Every change of a listener's state goes through here, as a socket's does. */
  setState(s: LState): void {
    this.state = s;
  }
}
