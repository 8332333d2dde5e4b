// The transport of a stack that replays an application (app-replay.ts): it opens nothing; the
// replayer plays the recorded transport, and answers name lookups from the recording.
import type { Core } from '../core/core.js';
import type { Backend, LookupCallback, LookupOptions } from '../backend/backend.js';
import type { AppReplayer } from './app-replay.js';
import type { TlsState } from '../backend/tls-state.js';

/** The transport of a replaying stack: it does nothing; the replayer plays the recorded transport. */
export class ReplayBackend implements Backend {
  readonly kind = 'replay';
  readonly #replayer: AppReplayer;
  #core: Core | null = null;
  constructor(replayer: AppReplayer) { this.#replayer = replayer; }
  now(): number { return this.#replayer.now(); }
  attach(core: Core): void { this.#core = core; this.#replayer.attach(core); }
  /** The recording's backend's batching: the replayed core batches as the recorded one did. */
  get batching(): readonly [number, number] | undefined { return this.#replayer.recordedBatching(); }
  exec(o: { data: Buffer | null; op: number }): void {
    if (o.data && this.#core) this.#core.release(o.data); // WRITE buffers go back to the pool
  }
  lookup(host: unknown, options: LookupOptions, callback: LookupCallback): void { this.#replayer.lookup(host, options, callback); }
  abandon(): void {}
  fdOf(): number { return -1; }
  handleObject(): object | null { return null; }
  adoptHandle(): number { return -1; }
  localName(h: number): { address: string; port: number } | null { return this.#replayer.recordedName('apiLocalName', h); }
  peerName(h: number): { address: string; port: number } | null { return this.#replayer.recordedName('apiPeerName', h); }
  /** A TLS socket's session is the recorded one: its plaintext comes as the socket's inputs, its state from the trace. */
  tlsConnect(): void {}
  tlsState(h: number): TlsState | null { return this.#replayer.tlsState(h); }
}
