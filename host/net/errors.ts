// Node's error shapes, so that code handling node:net errors handles ours unchanged: the same
// `code`, the same class (RangeError, TypeError, Error), the same message, and for system
// errors the same `errno`, `syscall`, `address` and `port`. Written from Node's documented and
// observed behaviour (a test compares them with node:net's own errors).
import { format, inspect } from 'node:util';
import { errnoName, platformErrno, errnoMessage } from '../core/errno.js';
export { dnsException } from '../core/errno.js';

type Base = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

function nodeError(Base: Base, code: string, message: string): Error {
  const err = new Base(message);
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  Object.defineProperty(err, 'toString', {
    value() { return `${this.name} [${code}]: ${this.message}`; }, enumerable: false, writable: true, configurable: true,
  });
  // Node's stack starts with "TypeError [ERR_X]: message".
  if (typeof err.stack === 'string') err.stack = `${err.name} [${code}]:${err.stack.slice(err.name.length + 1)}`;
  return err;
}

/** How Node's messages describe a received value (determineSpecificType). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint': return `type bigint (${value}n)`;
    case 'number':
      if (value === 0) return 1 / value === -Infinity ? 'type number (-0)' : 'type number (0)';
      if (Number.isNaN(value)) return 'type number (NaN)';
      if (value === Infinity) return 'type number (Infinity)';
      if (value === -Infinity) return 'type number (-Infinity)';
      return `type number (${value})`;
    case 'boolean': return `type boolean (${value})`;
    case 'symbol': return `type symbol (${String(value)})`;
    case 'function': return `function ${(value as Function).name}`;
    case 'object': {
      const ctor = (value as object).constructor;
      if (ctor && 'name' in ctor) return `an instance of ${ctor.name}`;
      return inspect(value, { depth: -1 });
    }
    case 'string': {
      let s = value;
      if (s.length > 28) s = `${s.slice(0, 25)}...`;
      return s.includes("'") ? `type string (${JSON.stringify(s)})` : `type string ('${s}')`;
    }
    default: return `type ${typeof value}`;
  }
}

function formatList(items: string[], type = 'and'): string {
  if (items.length <= 1) return items.join('');
  if (items.length === 2) return `${items[0]} ${type} ${items[1]}`;
  return `${items.slice(0, -1).join(', ')}, ${type} ${items[items.length - 1]}`;
}

const PRIMITIVES = ['string', 'function', 'number', 'object', 'Function', 'Object', 'boolean', 'bigint', 'symbol'];

export function ERR_INVALID_ARG_TYPE(name: string, expected: string | string[], actual: unknown): Error {
  const list = Array.isArray(expected) ? expected : [expected];
  let msg = 'The ';
  if (name.endsWith(' argument')) msg += `${name} `;
  else msg += `"${name}" ${name.includes('.') ? 'property' : 'argument'} `;
  msg += 'must be ';
  const types: string[] = [];
  const instances: string[] = [];
  const other: string[] = [];
  for (const v of list) {
    if (PRIMITIVES.includes(v)) types.push(v.toLowerCase());
    else if (/^[A-Z][a-zA-Z0-9]*$/.test(v)) instances.push(v);
    else other.push(v);
  }
  if (instances.length > 0) {
    const pos = types.indexOf('object');
    if (pos !== -1) { types.splice(pos, 1); instances.push('Object'); }
  }
  if (types.length > 0) {
    msg += `${types.length > 1 ? 'one of type' : 'of type'} ${formatList(types, 'or')}`;
    if (instances.length > 0 || other.length > 0) msg += ' or ';
  }
  if (instances.length > 0) {
    msg += `an instance of ${formatList(instances, 'or')}`;
    if (other.length > 0) msg += ' or ';
  }
  if (other.length > 0) {
    if (other.length > 1) msg += `one of ${formatList(other, 'or')}`;
    else msg += (other[0].toLowerCase() !== other[0] ? 'an ' : '') + other[0];
  }
  return nodeError(TypeError, 'ERR_INVALID_ARG_TYPE', `${msg}. Received ${describe(actual)}`);
}

export function ERR_INVALID_ARG_VALUE(name: string, value: unknown, reason = 'is invalid', Base: Base = TypeError): Error {
  let inspected = inspect(value);
  if (inspected.length > 128) inspected = `${inspected.slice(0, 128)}...`;
  const type = name.includes('.') ? 'property' : 'argument';
  return nodeError(Base, 'ERR_INVALID_ARG_VALUE', `The ${type} '${name}' ${reason}. Received ${inspected}`);
}

export function ERR_OUT_OF_RANGE(name: string, range: string, input: unknown): Error {
  let received: string;
  if (Number.isInteger(input) && Math.abs(input as number) > 2 ** 32) received = addSeparators(String(input));
  else received = inspect(input);
  return nodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${received}`);
}

function addSeparators(val: string): string {
  let res = '';
  let i = val.length;
  const start = val[0] === '-' ? 1 : 0;
  for (; i >= start + 4; i -= 3) res = `_${val.slice(i - 3, i)}${res}`;
  return `${val.slice(0, i)}${res}`;
}

export function ERR_SOCKET_BAD_PORT(name: string, port: unknown, allowZero = true): Error {
  const op = allowZero ? '>=' : '>';
  return nodeError(RangeError, 'ERR_SOCKET_BAD_PORT', `${name} should be ${op} 0 and < 65536. Received ${describe(port)}.`);
}

export function ERR_MISSING_ARGS(...names: (string | string[])[]): Error {
  const wrapped = names.map((a) => Array.isArray(a) ? a.map((x) => `"${x}"`).join(' or ') : `"${a}"`);
  return nodeError(TypeError, 'ERR_MISSING_ARGS',
    `The ${formatList(wrapped)} argument${names.length > 1 ? 's' : ''} must be specified`);
}

export const ERR_INVALID_IP_ADDRESS = (ip: unknown) => nodeError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${format('%s', ip)}`);
export function ERR_INVALID_ADDRESS_FAMILY(family: unknown, host: unknown, port: unknown): Error {
  const err = nodeError(RangeError, 'ERR_INVALID_ADDRESS_FAMILY', `Invalid address family: ${family} ${host}:${port}`);
  Object.assign(err, { host, port });
  return err;
}
export const ERR_SOCKET_CLOSED = () => nodeError(Error, 'ERR_SOCKET_CLOSED', 'Socket is closed');
export const ERR_SOCKET_CLOSED_BEFORE_CONNECTION = () =>
  nodeError(Error, 'ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established');
export const ERR_SOCKET_CONNECTION_TIMEOUT = () => nodeError(Error, 'ERR_SOCKET_CONNECTION_TIMEOUT', 'Socket connection timeout');
export const ERR_SERVER_ALREADY_LISTEN = () =>
  nodeError(Error, 'ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
export const ERR_SERVER_NOT_RUNNING = () => nodeError(Error, 'ERR_SERVER_NOT_RUNNING', 'Server is not running.');
export const ERR_INVALID_HANDLE_TYPE = () => nodeError(TypeError, 'ERR_INVALID_HANDLE_TYPE', 'This handle type cannot be sent');
export const ERR_INVALID_FD_TYPE = (type: string) => nodeError(TypeError, 'ERR_INVALID_FD_TYPE', `Unsupported fd type: ${type}`);

/** "connect ECONNREFUSED 127.0.0.1:9" with errno, code, syscall, address, port (Node's ExceptionWithHostPort). */
export function exceptionWithHostPort(abiErrno: number, syscall: string, address: string | undefined, port?: number,
  additional?: string): NodeJS.ErrnoException {
  const code = errnoName(abiErrno);
  let details = '';
  if (port && port > 0) details = ` ${address}:${port}`;
  else if (address) details = ` ${address}`;
  if (additional) details += ` - Local (${additional})`;
  const err = new Error(`${syscall} ${code}${details}`) as NodeJS.ErrnoException & { address?: string; port?: number };
  err.errno = platformErrno(abiErrno);
  err.code = code;
  err.syscall = syscall;
  err.address = address;
  if (port) err.port = port;
  return err;
}

/** "listen EADDRINUSE: address already in use :::8000" (Node's UVExceptionWithHostPort). */
export function uvExceptionWithHostPort(abiErrno: number, syscall: string, address: string | null, port?: number): NodeJS.ErrnoException {
  const code = errnoName(abiErrno);
  let details = '';
  if (port && port > 0) details = ` ${address}:${port}`;
  else if (address) details = ` ${address}`;
  const err = new Error(`${syscall} ${code}: ${errnoMessage(abiErrno)}${details}`) as NodeJS.ErrnoException & { address?: string | null; port?: number };
  err.code = code;
  err.errno = platformErrno(abiErrno);
  err.syscall = syscall;
  err.address = address;
  if (port) err.port = port;
  return err;
}

/** "read ECONNRESET" (Node's ErrnoException). */
export function errnoException(abiErrno: number, syscall: string, original?: string): NodeJS.ErrnoException {
  const code = errnoName(abiErrno);
  let message = original ? `${syscall} ${code} ${original}` : `${syscall} ${code}`;
  // The sandbox's quota (docs/sandbox.md): say which one, the code alone reads like a disk's.
  if (code === 'EDQUOT') message += `: the stack's ${syscall === 'read' ? 'received' : 'sent'} byte quota (limits.${syscall === 'read' ? 'received' : 'sent'}) is used up`;
  const err = new Error(message) as NodeJS.ErrnoException;
  err.errno = platformErrno(abiErrno);
  err.code = code;
  err.syscall = syscall;
  return err;
}

/** Node's NodeAggregateError: an AggregateError whose code is its first error's. */
export function aggregateError(errors: Error[]): Error {
  const err = new AggregateError(errors);
  (err as NodeJS.ErrnoException).code = (errors[0] as NodeJS.ErrnoException | undefined)?.code;
  return err;
}

/** The error a write after the peer's FIN gets when allowHalfOpen is off (Node's writeAfterFIN). */
export function endedByOtherParty(): NodeJS.ErrnoException {
  const err = new Error('This socket has been ended by the other party') as NodeJS.ErrnoException;
  err.code = 'EPIPE';
  return err;
}
