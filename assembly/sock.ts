// What the core keeps per socket and per listener, the single `setState` choke point, and the
// predicates derived from the state. Transitions live in socket.ts and listener.ts.
import { State } from "./abi";
import { ByteQueue } from "./queue";
import { Timer } from "./timers";

/** A resolved address to try: family 4 or 6 and its text. */
export class Addr {
  constructor(public family: i32, public text: ArrayBuffer) {}
}

export class Sock {
  state: State = State.Idle;
  server: u32 = 0; // the listener that accepted it, 0 for a client socket

  // Send side. `accepted` counts bytes taken from the host, `sent` bytes handed to the
  // transport, `flushed` bytes the transport confirmed; each write request ends at a mark.
  sendQ: ByteQueue = new ByteQueue();
  credit: f64 = 0;
  accepted: f64 = 0;
  sent: f64 = 0;
  flushed: f64 = 0;
  marks: f64[] = [];
  blocked: bool = false; // the host holds bytes we refused: it is owed WRITABLE
  blockedSize: u32 = 0;  // the queue's size when we refused (WRITABLE once it drained below)
  wroteIn: u32 = 0;      // the input (epoch) that last emitted a WRITE for this socket
  inTurn: bool = false;  // wrote since the last apiFlush: further small writes wait for it

  // Receive side. `reading`: READ_START is in force. `wantRead`: the consumer asked for data
  // and has not paused since. Bytes that arrive while it does not want them wait in recvQ.
  recvQ: ByteQueue = new ByteQueue();
  reading: bool = false;
  wantRead: bool = false;
  eofDelivered: bool = false;
  bytesRead: f64 = 0;

  idleMs: f64 = 0;
  idle: Timer = new Timer();
  attemptTimer: Timer = new Timer();

  // Connecting: where to, and which resolved address is being tried.
  port: i32 = 0;
  localPort: i32 = 0;
  localAddr: ArrayBuffer | null = null;
  addrs: Addr[] = [];
  attempt: i32 = 0;
  attemptMs: f64 = 250;
  multi: bool = false; // several addresses: autoSelectFamily's attempts
  announced: bool = false; // CONNECT_ATTEMPT emitted for the current attempt

  refed: bool = true;
  ipc: bool = false;     // a Unix socket or pipe: no socket options
  hadError: bool = false; // destroyed with an error: CLOSED says so
  noDelay: bool = false;
  keepAlive: bool = false;
  keepAliveDelay: f64 = 0;

  constructor(public id: u32) {}

  setState(s: State): void {
    this.state = s;
  }

  /** A transport exists (CONNECT issued or accepted) and CLOSE has not been issued. */
  hasTransport(): bool { return this.state >= State.Connecting && this.state <= State.Done; }

  connected(): bool { return this.state >= State.Open && this.state <= State.Done; }

  /** New bytes may be queued: the write side is open and end() has not been called. */
  maySend(): bool { return this.state == State.Open || this.state == State.ReadEnded; }

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

export const enum LState { Binding = 0, Listening = 1, Closed = 2, Failed = 3 }

export class Listener {
  state: LState = LState.Binding;
  count: i32 = 0;       // accepted sockets not yet destroyed
  maxConnections: f64 = 0; // 0 = no limit
  refed: bool = true;
  constructor(public id: u32) {}
}
