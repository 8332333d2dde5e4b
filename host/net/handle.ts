// A Socket's `_handle`: what wasinet shows where node:net shows its libuv TCP or Pipe handle.
//
// Node's own consumers of net reach into `socket._handle`. Node's http server, http2 and tls
// take a handle that is a libuv stream (`isStreamBase`) and from then on read and write the OS
// socket themselves (`parser.consume(handle)`, `new TLSWrap(handle)`, `Http2Session#consume`):
// for a wasinet socket every byte would bypass the core, and with it the policy, limits,
// recording and replay. So `_handle` is never the transport's handle. It is this object: no
// `isStreamBase`, so those consumers treat the socket as the Duplex it is (as they treat any
// JS stream), and the members they and Node's net tests do use behave as on a libuv handle:
//
//   readStart/readStop, reading   the http server pauses and resumes reading with these
//                                 (onSocketPause/onSocketResume): they ask the core, as
//                                 net.Socket#_read and a full Readable do
//   setNoDelay/setKeepAlive       the transport's option calls (TCP only, as on libuv's Pipe
//                                 there are none); the core's SET_OPTION reaches the transport
//                                 through them, so code that replaces them sees the calls
//                                 net.js would make
//   close(cb)                     closes the transport under the socket: its next write fails
//                                 with EBADF, as on a closed libuv handle
//   getAsyncId, getProviderType   the async id the http client uses as a trigger id
//   fd, bytesRead, bytesWritten, writeQueueSize, getsockname, getpeername, ref/unref/hasRef
//
// The handle asks its Socket for all of it through the symbol-keyed methods below (on the
// Socket's prototype: a handle costs one small object, no closures). docs/design.md lists
// every internal member of a socket that Node's consumers use and what wasinet gives each.
import { executionAsyncId } from 'node:async_hooks';
import { Opt } from '../core/abi.js';

export const kReadStart = Symbol('wasinet.handle.readStart');
export const kReadStop = Symbol('wasinet.handle.readStop');
export const kReading = Symbol('wasinet.handle.reading');
export const kTransportOption = Symbol('wasinet.handle.option');
export const kCloseTransport = Symbol('wasinet.handle.close');
export const kFd = Symbol('wasinet.handle.fd');
export const kWriteQueueSize = Symbol('wasinet.handle.writeQueueSize');
export const kRefHandle = Symbol('wasinet.handle.ref');
export const kHasRef = Symbol('wasinet.handle.hasRef');
export const kSockname = Symbol('wasinet.handle.sockname');
export const kPeername = Symbol('wasinet.handle.peername');

/** What a handle asks of the Socket it belongs to (the Socket keeps the connection's state). */
export interface HandleOwner {
  [kReadStart](): number;
  [kReadStop](): number;
  [kReading](): boolean;
  /** Carries out a SET_OPTION on the transport. */
  [kTransportOption](opt: number, value: number, value2: number): void;
  [kCloseTransport](handle: PipeHandle, cb?: () => void): void;
  [kFd](): number;
  [kWriteQueueSize](): number;
  [kRefHandle](on: boolean): void;
  [kHasRef](): boolean;
  [kSockname](): object;
  [kPeername](): object;
  readonly bytesRead: number;
  readonly _bytesDispatched: number;
}

const kOwner = Symbol('wasinet.handle.owner');
/** `_handle.close()` was called: 1 closing, 2 closed (the Socket reads and sets it). */
export const kClosed = Symbol('wasinet.handle.closed');
export const kCloseCb = Symbol('wasinet.handle.closeCb');

/** The `_handle` of an IPC socket: a libuv Pipe has no socket options. */
export class PipeHandle {
  /** Set by consumers that would take a stream handle over (http's server marks it). */
  _consumed?: boolean;
  readonly [kOwner]: HandleOwner;
  [kClosed] = 0;
  [kCloseCb]: (() => void) | null = null;
  readonly #asyncId: number;

  constructor(owner: HandleOwner) {
    this[kOwner] = owner;
    this.#asyncId = executionAsyncId();
  }

  get reading(): boolean {
    return this[kOwner][kReading]();
  }

  /** net.js and the http server set it next to readStart/readStop; the core keeps the truth. */
  set reading(_value: boolean) {}

  readStart(): number { return this[kOwner][kReadStart](); }
  readStop(): number { return this[kOwner][kReadStop](); }

  close(cb?: () => void): void { this[kOwner][kCloseTransport](this, cb); }

  ref(): void { this[kOwner][kRefHandle](true); }
  unref(): void { this[kOwner][kRefHandle](false); }
  hasRef(): boolean { return this[kOwner][kHasRef](); }

  getAsyncId(): number { return this.#asyncId; }
  getProviderType(): string { return this instanceof TcpHandle ? 'TCPWRAP' : 'PIPEWRAP'; }

  get fd(): number { return this[kOwner][kFd](); }
  get bytesRead(): number { return this[kOwner].bytesRead; }
  get bytesWritten(): number { return this[kOwner]._bytesDispatched; }
  get writeQueueSize(): number { return this[kOwner][kWriteQueueSize](); }

  getsockname(out: Record<string, unknown>): number {
    Object.assign(out, this[kOwner][kSockname]());
    return 0;
  }

  getpeername(out: Record<string, unknown>): number {
    Object.assign(out, this[kOwner][kPeername]());
    return 0;
  }
}

/** The `_handle` of a TCP socket. */
export class TcpHandle extends PipeHandle {
  setNoDelay(enable: boolean): number {
    this[kOwner][kTransportOption](Opt.NoDelay, enable ? 1 : 0, 0);
    return 0;
  }

  /** `initialDelay` in seconds, as libuv's TCP handle takes it. */
  setKeepAlive(enable: boolean, initialDelay: number): number {
    this[kOwner][kTransportOption](Opt.KeepAlive, enable ? 1 : 0, (initialDelay | 0) * 1000);
    return 0;
  }
}

/**
 * Carries a SET_OPTION of the core to the transport through `handle`, where code may have
 * replaced the option calls (as it may on a libuv handle); a pipe has none, as in Node.
 */
export function applyOption(handle: PipeHandle, o: { a: number; b: number; c: number }): void {
  const h = handle as PipeHandle & Partial<TcpHandle>;
  if (o.a === Opt.NoDelay) h.setNoDelay?.(o.b !== 0);
  else if (o.a === Opt.KeepAlive) h.setKeepAlive?.(o.b !== 0, Math.floor(o.c / 1000));
}
