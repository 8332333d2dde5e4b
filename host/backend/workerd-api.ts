// The part of Cloudflare's socket API (`import { connect } from 'cloudflare:sockets'`, workerd)
// that workerd.ts uses, declared here as the runtime documents it: its types are not part of
// this Node project's build. The streams are the WHATWG ones; only the calls used are declared.
export interface WorkerdSocketAddress { hostname: string; port: number }
export interface WorkerdSocketOptions { secureTransport?: 'off' | 'on' | 'starttls'; allowHalfOpen?: boolean }
/** What `opened` resolves with: "host:port" strings ("[v6]:port"); workerd 1.2026 gives only the remote one. */
export interface WorkerdSocketInfo { remoteAddress?: string; localAddress?: string }

export interface WorkerdReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}
export interface WorkerdWriter {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}
export interface WorkerdSocket {
  readonly readable: { getReader(): WorkerdReader };
  readonly writable: { getWriter(): WorkerdWriter };
  readonly opened: Promise<WorkerdSocketInfo>;
  readonly closed: Promise<void>;
  close(): Promise<void>;
}
export type WorkerdConnect = (address: WorkerdSocketAddress, options?: WorkerdSocketOptions) => WorkerdSocket;
