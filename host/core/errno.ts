// Errors at the boundary are ABI numbers (abi/abi.mjs); users see Node's codes and errnos.
// This file is the one place that maps between them: a backend turns an OS error code into an
// ABI number, host/net turns an ABI number back into the code and the platform's errno
// (util.getSystemErrorMap), so a trace made on one OS means the same on another.
import { getSystemErrorMap } from 'node:util';
import { constants } from 'node:os';
import { ERRNO, ERRNO_NAMES } from './abi.js';

const byName = new Map<string, [number, string]>();
for (const [errno, [name, message]] of getSystemErrorMap()) byName.set(name, [errno, message]);
// getaddrinfo's "not found" is reported by Node as ENOTFOUND with EAI_NONAME's errno.
byName.set('ENOTFOUND', byName.get('EAI_NONAME') ?? [-3008, 'unknown node or service']);
// libuv has no EDQUOT (a stack's byte quota is used up: docs/sandbox.md); the OS's number.
byName.set('EDQUOT', [-(constants.errno.EDQUOT ?? 122), 'quota exceeded']);

/** The ABI number for an error code such as 'ECONNREFUSED' (UNKNOWN when we have none). */
export function abiErrno(code: unknown): number {
  return (typeof code === 'string' && ERRNO[code]) || ERRNO.UNKNOWN;
}

/** The code for an ABI number, e.g. 'ECONNREFUSED'. */
export function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? 'UNKNOWN';
}

/** The platform's (negative) errno for an ABI number, as Node puts in `err.errno`. */
export function platformErrno(n: number): number {
  return byName.get(errnoName(n))?.[0] ?? -4094;
}

/** libuv's description of the error, e.g. 'connection refused'. */
export function errnoMessage(n: number): string {
  return byName.get(errnoName(n))?.[1] ?? 'unknown error';
}

/** "getaddrinfo ENOTFOUND example.invalid" (Node's DNSException), for lookups a backend fails. */
export function dnsException(abiErrno: number, syscall: string, hostname?: string): NodeJS.ErrnoException {
  const code = errnoName(abiErrno);
  const err = new Error(`${syscall} ${code}${hostname ? ` ${hostname}` : ''}`) as NodeJS.ErrnoException & { hostname?: string };
  err.errno = platformErrno(abiErrno);
  err.code = code;
  err.syscall = syscall;
  if (hostname) err.hostname = hostname;
  return err;
}
