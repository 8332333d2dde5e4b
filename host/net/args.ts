// Argument normalisation shared by Socket#connect and Server#listen (Node's normalizeArgs):
//   (options[...][, cb]) | (path[...][, cb]) | ([port][, host][...][, cb])
import { validateBoolean, validateInt32 } from './validate.js';

/** Marks an array made by normalizeArgs (Socket#connect takes one as its single argument). */
export const kNormalized = Symbol('normalizedArgs');
export type NormalizedArgs = [Record<string, any>, ((...a: any[]) => void) | null] & { [kNormalized]?: true };

function toNumber(x: unknown): number | false {
  const n = Number(x);
  return n >= 0 ? n : false;
}

export function isPipeName(s: unknown): s is string {
  return typeof s === 'string' && toNumber(s) === false;
}

export function normalizeArgs(args: unknown[]): NormalizedArgs {
  let arr: NormalizedArgs;
  if (args.length === 0) {
    arr = [{}, null] as NormalizedArgs;
    arr[kNormalized] = true;
    return arr;
  }
  const arg0 = args[0];
  let options: Record<string, any> = {};
  if (typeof arg0 === 'object' && arg0 !== null) {
    options = arg0 as Record<string, any>;
  } else if (isPipeName(arg0)) {
    options.path = arg0;
  } else {
    options.port = arg0;
    if (args.length > 1 && typeof args[1] === 'string') options.host = args[1];
  }
  const cb = args[args.length - 1];
  arr = (typeof cb !== 'function' ? [options, null] : [options, cb]) as NormalizedArgs;
  arr[kNormalized] = true;
  return arr;
}

/** A number from a listen() argument, as Node reads a backlog (false when it is none). */
export function backlogArg(x: unknown): number | false {
  return toNumber(x);
}

/** Node 20's defaults for autoSelectFamily (the happy-eyeballs connect), process-wide. */
export const autoSelect = {
  family: true,
  attemptTimeout: 250,
};

export function getDefaultAutoSelectFamily(): boolean {
  return autoSelect.family;
}

export function setDefaultAutoSelectFamily(value: unknown): void {
  validateBoolean(value, 'value');
  autoSelect.family = value;
}

export function getDefaultAutoSelectFamilyAttemptTimeout(): number {
  return autoSelect.attemptTimeout;
}

export function setDefaultAutoSelectFamilyAttemptTimeout(value: unknown): void {
  validateInt32(value, 'value', 1);
  autoSelect.attemptTimeout = value < 10 ? 10 : value;
}
