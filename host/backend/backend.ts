// The transport behind a stack: what carries the core's commands to a network and brings the
// network's events back as core inputs. `node` uses real OS sockets; `sim` is an in-memory
// network on a virtual clock. A backend never decides anything the core decides (when to read,
// how much to write, when to end or close): it does what a command says and reports what
// happened, as the ABI describes (docs/abi.md).
import type { Core, Output } from '../core/core.js';
import type { TlsState } from './tls-state.js';

/** Node's dns.lookup options, as net.Socket#connect builds them (family may be a string). */
export interface LookupOptions {
  family?: unknown;
  hints?: number;
  all?: boolean;
}

export interface LookupAddress {
  address: string;
  family: number;
}

export type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[] | undefined,
  family?: number) => void;

export interface Backend {
  readonly kind: string;
  /** Monotonic milliseconds: the `now` of every input. */
  now(): number;
  /** Connects the backend to the stack's core (again, with a fresh core after a trap). */
  attach(core: Core): void;
  /**
   * How far the core is to batch a turn's writes on TCP sockets — writes of up to `max` bytes,
   * `cap` in all — for a transport that gains from larger writes (apiBatching); absent: the
   * core's own (8 KiB, 64 KiB).
   */
  readonly batching?: readonly [max: number, cap: number];
  /** Carries out one command (ops below FIRST_NOTIFICATION, except RESOLVE). */
  exec(o: Output): void;
  /** The default name resolution for RESOLVE (a socket's own `lookup` option overrides it). */
  lookup(host: unknown, options: LookupOptions, callback: LookupCallback): void;
  /** Drops every transport at once, reporting nothing (the core they belonged to is gone). */
  abandon(): void;
  /** The OS file descriptor behind a handle, or -1. */
  fdOf(h: number): number;
  /** The transport's own handle object behind a core handle (Node's `_handle`), or null. */
  handleObject(h: number): object | null;
  /**
   * Whether listener `h`'s listen failed at once, its error still to come (Node binds at once
   * where no host name is to look up, and has no handle then: the server is not running).
   */
  listenFailed?(h: number): boolean;
  /**
   * Takes a handle object (another server's `_handle`) for LISTEN with the HANDLE flag; returns
   * the token LISTEN carries. A backend that cannot listen on such objects returns -1.
   */
  adoptHandle(handle: object): number;
  /**
   * The local name of a connected socket whose `onConnect` left it out (an empty local address),
   * asked for when the application first wants it; null when there is none any more (closed).
   */
  localName?(h: number): { address: string; port: number } | null;
  /** The peer's name, likewise (an accepted socket's `onConnection` may leave both out). */
  peerName?(h: number): { address: string; port: number } | null;
  /**
   * The stack's own timers (stack.setTimeout) pending now. They keep the process alive, as
   * global timers do; socket timeouts alone do not.
   */
  userTimers?(pending: number): void;
  /**
   * Runs `fn` in the event loop's close phase, as a closed handle's callback runs: after every
   * check-phase callback of this iteration. Without it, `setImmediate` stands in for it.
   */
  closePhase?(fn: () => void): void;
  /**
   * Runs `fn` from the event loop's pending callbacks, where libuv completes a write that did
   * not finish in the call: after the current callback and its ticks and microtasks; from an
   * I/O callback, before that iteration's check phase; from any other phase, at the start of
   * the next iteration, before its poll. Without it, socket.ts comes as close as it can.
   */
  pendingPhase?(fn: () => void): void;
  /**
   * The next WRITE of handle `h` is the second system call of a writev of IOV_MAX + 1 to
   * 2·IOV_MAX buffers: sent as libuv's uv_write sends it (after its try-write took the first
   * IOV_MAX), so that libuv completes it from its pending callbacks on the socket's own handle,
   * where the shutdown that its completion may ask for is made at once (libuv drains the socket
   * after the write callbacks), as on node:net. Without it, socket.ts holds the completion for
   * pendingPhase instead.
   */
  lateWrite?(h: number): void;
  /**
   * The next CONNECT of handle `h` opens a TLS session (Node's `tls.connect` with `options`,
   * below the core): the core's bytes on `h` are its plaintext, its CONNECT succeeds once the
   * handshake has (or when TCP connected and the handshake failed, followed by the failure as a
   * read error), and `tlsState` tells what the session is (host/net/tls.ts). A backend without it
   * carries no TLS: tls.connect then wraps a wasinet socket (the ciphertext goes through the core).
   */
  tlsConnect?(h: number, options: Record<string, unknown>): void;
  /**
   * What the TLS session of `h` is now: negotiated (`secure`), failed (`error`), or null
   * (tls-state.ts). `news`: instead, the session tickets it got since it was last asked
   * (`sessions`; null when there are none).
   */
  tlsState?(h: number, news?: boolean): TlsState | null;
  /**
   * Connection `h`'s OS handle, for child_process's `send()` to another process (child-send.ts):
   * with `keepOpen` only the handle object; otherwise the connection is let go of — `socket` is a
   * node:net Socket over the handle, which Node's send takes it from, and the backend forgets the
   * connection (its CLOSE then closes nothing). null when there is none to give (not open, a TLS
   * session's). A backend without it cannot send connections: Node's send refuses them.
   */
  sendConn?(h: number, keepOpen: boolean): SendCarrier | null;
}

/**
 * What a socket or server gives send() (host/net/child-send.ts): the OS handle object (null: the
 * message goes alone, as for a node:net socket without a handle), and for a connection let go
 * of, the node:net Socket Node's send takes it from.
 */
export interface SendCarrier {
  handle: object | null;
  socket?: object;
}

/** This process is a node:cluster worker (node:cluster is loaded when first asked, as node:net does). */
export function isClusterWorker(): boolean {
  return (process as unknown as { getBuiltinModule(id: string): { isWorker: boolean } }).getBuiltinModule('node:cluster').isWorker;
}
