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

/**
 * A Node option as the command line and NODE_OPTIONS give it (the last one wins, as in Node):
 * `--name`, `--no-name` (booleans), `--name=value` or `--name value`.
 */
function nodeOption(name: string): string | boolean | undefined {
  const args = [...(process.env.NODE_OPTIONS?.split(/\s+/).filter(Boolean) ?? []), ...process.execArgv];
  let value: string | boolean | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === `--${name}`) value = args[i + 1] !== undefined && !args[i + 1].startsWith('-') ? args[i + 1] : true;
    else if (a === `--no-${name}`) value = false;
    else if (a.startsWith(`--${name}=`)) value = a.slice(name.length + 3);
  }
  return value;
}

function defaultFamily(): boolean {
  const v = nodeOption('network-family-autoselection') ?? nodeOption('enable-network-family-autoselection');
  return v === undefined ? true : v !== false && v !== 'false';
}

function defaultAttemptTimeout(): number {
  const v = Number(nodeOption('network-family-autoselection-attempt-timeout'));
  return Number.isInteger(v) && v > 0 ? v : 250; // as given: Node clamps to 10 only in its setter and connect()'s option
}

/**
 * Node 20's defaults for autoSelectFamily (the happy-eyeballs connect), process-wide; they start
 * from the command line (`--[no-]network-family-autoselection`,
 * `--network-family-autoselection-attempt-timeout`), as node:net's do.
 */
export const autoSelect = {
  family: defaultFamily(),
  attemptTimeout: defaultAttemptTimeout(),
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
