// The parts of Deno's own API that deno.ts uses: its types are not part of this Node
// project's build (no @types for the runtime), so they are declared here, as the runtime documents them.
export interface DenoAddr { transport: 'tcp' | 'unix'; hostname?: string; port?: number; path?: string | null }
export interface DenoConn {
  readonly localAddr: DenoAddr;
  readonly remoteAddr: DenoAddr;
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(on?: boolean): void;
  setKeepAlive?(on?: boolean): void;
  ref(): void;
  unref(): void;
}
export interface DenoListener { readonly addr: DenoAddr; accept(): Promise<DenoConn>; close(): void; ref(): void; unref(): void }
export interface DenoApi {
  connect(o: { hostname: string; port: number; transport?: 'tcp' } | { transport: 'unix'; path: string }): Promise<DenoConn>;
  listen(o: { hostname: string; port: number; transport?: 'tcp' } | { transport: 'unix'; path: string }): DenoListener;
  statSync(path: string): { mode: number | null };
  chmodSync(path: string, mode: number): void;
  removeSync(path: string): void;
}

export function deno(): DenoApi {
  return (globalThis as unknown as { Deno: DenoApi }).Deno;
}
