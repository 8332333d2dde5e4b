import type { Conn } from './bun.js';

// The parts of Bun's own API that bun.ts uses: its types are not part of this Node
// project's build (no @types for the runtime), so they are declared here, as the runtime documents them.
export interface BunSocket {
  data: Conn | undefined;
  readonly localPort?: number;
  readonly localAddress?: string;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  write(data: Uint8Array): number;
  shutdown(): void;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(on?: boolean): boolean;
  setKeepAlive(on?: boolean, delay?: number): boolean;
  ref(): void;
  unref(): void;
}
export interface Handlers {
  open?(s: BunSocket): void;
  data(s: BunSocket, d: Uint8Array): void;
  drain?(s: BunSocket): void;
  end?(s: BunSocket): void;
  close?(s: BunSocket, err?: Error): void;
  error?(s: BunSocket, err: Error): void;
}
export interface BunListener { readonly port?: number; readonly hostname?: string; readonly unix?: string; stop(closeActive?: boolean): void; ref(): void; unref(): void }
export type Where = { hostname: string; port: number } | { unix: string };
export interface BunApi {
  connect(o: Where & { allowHalfOpen: boolean; socket: Handlers }): Promise<BunSocket>;
  listen(o: Where & { allowHalfOpen: boolean; socket: Handlers }): BunListener;
}

export function bun(): BunApi {
  return (globalThis as unknown as { Bun: BunApi }).Bun;
}
