// Argument checks with Node's error codes and messages (internal/validators in Node).
import { ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE, ERR_SOCKET_BAD_PORT } from './errors.js';

export function validateNumber(value: unknown, name: string, min?: number, max?: number): asserts value is number {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
  if ((min != null && value < min) || (max != null && value > max) || ((min != null || max != null) && Number.isNaN(value))) {
    const range = `${min != null ? `>= ${min}` : ''}${min != null && max != null ? ' && ' : ''}${max != null ? `<= ${max}` : ''}`;
    throw ERR_OUT_OF_RANGE(name, range, value);
  }
}

export function validateInt32(value: unknown, name: string, min = -2147483648, max = 2147483647): asserts value is number {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!Number.isInteger(value)) throw ERR_OUT_OF_RANGE(name, 'an integer', value);
  if (value < min || value > max) throw ERR_OUT_OF_RANGE(name, `>= ${min} && <= ${max}`, value);
}

export function validateBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw ERR_INVALID_ARG_TYPE(name, 'boolean', value);
}

export function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw ERR_INVALID_ARG_TYPE(name, 'string', value);
}

export function validateFunction(value: unknown, name: string): asserts value is Function {
  if (typeof value !== 'function') throw ERR_INVALID_ARG_TYPE(name, 'Function', value);
}

export function validateAbortSignal(signal: unknown, name: string): void {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw ERR_INVALID_ARG_TYPE(name, 'AbortSignal', signal);
  }
}

/** A port: a number or a non-blank numeric string in [0, 65535] (1.. without allowZero). */
export function validatePort(port: unknown, name = 'Port', allowZero = true): number {
  if ((typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim().length === 0) ||
    +port !== (+port >>> 0) ||
    (port as number) > 0xFFFF ||
    (port === 0 && !allowZero)) {
    throw ERR_SOCKET_BAD_PORT(name, port, allowZero);
  }
  return (port as number) | 0;
}

/** A timer duration, as timers.enroll checks it (Node's getTimerDuration). */
export function timerDuration(msecs: unknown, name: string): number {
  validateNumber(msecs, name);
  if (msecs < 0 || !Number.isFinite(msecs)) throw ERR_OUT_OF_RANGE(name, 'a non-negative finite number', msecs);
  if (msecs > 2147483647) {
    process.emitWarning(`${msecs} does not fit into a 32-bit signed integer.\nTimer duration was truncated to 2147483647.`,
      'TimeoutOverflowWarning');
    return 2147483647;
  }
  return msecs;
}

const VALID_FAMILIES = [0, 4, 6];
// getaddrinfo hints Node accepts: AI_ADDRCONFIG | AI_ALL | AI_V4MAPPED (Linux values).
const VALID_HINTS = 0x20 | 0x10 | 0x08;

/**
 * The checks Node's dns.lookup makes on its arguments, for lookups that are not Node's own
 * (the sim backend): a non-string host name, a bad family or bad hints throw as there.
 */
export function validateLookup(hostname: unknown, options: { family?: unknown; hints?: unknown; all?: unknown }): void {
  if (hostname) validateString(hostname, 'hostname');
  if (options.hints != null) {
    validateNumber(options.hints, 'options.hints');
    const hints = options.hints >>> 0;
    if ((hints & ~VALID_HINTS) !== 0) throw ERR_INVALID_ARG_VALUE('hints', hints);
  }
  if (options.family != null && options.family !== 'IPv4' && options.family !== 'IPv6' &&
    !VALID_FAMILIES.includes(options.family as number)) {
    throw ERR_INVALID_ARG_VALUE('options.family', options.family, 'must be one of: 0, 4, 6');
  }
  if (options.all != null) validateBoolean(options.all, 'options.all');
}
