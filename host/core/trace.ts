// Record and replay at the boundary.
//
// A trace is every input a core received — its export, `now`, arguments and payload bytes —
// with what the core answered: the result, every output record (with its payload) and a digest
// of the touched handle's state. Because the core reads nothing else (no clock, no randomness,
// no I/O), feeding the same inputs to a fresh core must give the same answers; `replay` checks
// that, with no network, and reports the first divergence.
//
// This file is format 1 (still written with record: { version: 1 }, and replayed); format 2,
// the default, is in host/trace/. `replay` takes either.
//
// Format (version 1): UTF-8 JSON lines. The first line is a header:
//   {"wasinet":"trace","version":1,"abi":1,"core":"sha256:<hex of the core's Wasm>"}
// then one line per input, in the order the core received them:
//   {"t":<now>,"in":"<export>","args":[...],"p":"<payload, base64>","r":<result>,
//    "out":[[op,h,a,b,c,"<data, base64>"],...],"d":<digest>}
// ("p", "out" and a record's data are left out when empty), and {"core":"new"} where a fresh core
// instance took over after a trap. Numbers are exact (JSON round-trips doubles).
import { openSync, writeSync, closeSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Core, type CoreOwner, type CoreTrap, type Output, type Tap, opName } from './core.js';
import { ABI_VERSION } from './abi.js';
import { isTrace2 } from '../trace/reader.js';
import { checkTrace2 } from '../trace/check.js';

export const TRACE_VERSION = 1;

type OutRecord = [number, number, number, number, number] | [number, number, number, number, number, string];

interface InputLine {
  t: number;
  in: string;
  args: number[];
  p?: string;
  r: number;
  out?: OutRecord[];
  d: number;
}

function outRecord(o: Output): OutRecord {
  return o.data && o.data.length > 0 ? [o.op, o.h, o.a, o.b, o.c, o.data.toString('base64')] : [o.op, o.h, o.a, o.b, o.c];
}

export function coreDigest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Writes a trace file as the core runs. */
export class TraceRecorder implements Tap {
  #fd: number;
  #lines = 0;

  constructor(path: string, coreBytes: Uint8Array) {
    this.#fd = openSync(path, 'w');
    this.#write({ wasinet: 'trace', version: TRACE_VERSION, abi: ABI_VERSION, core: coreDigest(coreBytes) });
  }

  #write(v: unknown): void {
    if (this.#fd < 0) return; // closed: recording stopped
    writeSync(this.#fd, `${JSON.stringify(v)}\n`);
    this.#lines++;
  }

  call(name: string, now: number, args: readonly number[], payload: Uint8Array | null, result: number,
    outputs: readonly Output[], digest: number): void {
    const line: InputLine = { t: now, in: name, args: [...args], r: result, d: digest };
    if (payload && payload.length > 0) line.p = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('base64');
    if (outputs.length > 0) line.out = outputs.map(outRecord);
    this.#write(line);
  }

  reset(): void {
    this.#write({ core: 'new' });
  }

  get lines(): number {
    return this.#lines;
  }

  /** Stops recording; later inputs are not written. */
  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

export interface Divergence {
  /** 1-based line of the trace where replay first disagreed (format 1), or the input's number (format 2). */
  line: number;
  /** Format 2: the 1-based number of the input where replay first disagreed. */
  record?: number;
  input: string;
  time: number;
  handle: number;
  what: 'result' | 'outputs' | 'digest' | 'trap' | 'policy' | 'limits';
  expected: string;
  actual: string;
  /** The inputs just before it, for context. */
  context: string[];
}

export interface ReplayResult {
  ok: boolean;
  inputs: number;
  divergence?: Divergence;
  header: Record<string, unknown>;
  /**
   * How the recording ended (format 2): 'closed' (the recorder was closed: an end mark),
   * 'stopped' (it stopped early, `stopped` says why: the disk fell behind), or 'open' (no end
   * mark: the process exited or was killed with the recorder open, or is still recording; the
   * trace holds what reached the file until then).
   */
  ending?: 'closed' | 'stopped' | 'open';
  stopped?: string;
}

function describeOut(records: readonly OutRecord[]): string {
  return records.map((r) => {
    const data = r.length > 5 ? ` data=${Buffer.from(r[5] as string, 'base64').length}B:${(r[5] as string).slice(0, 24)}` : '';
    return `${opName(r[0])}(h=${r[1]} a=${r[2]} b=${r[3]} c=${r[4]}${data})`;
  }).join(' ');
}

/**
 * Replays a trace (a file of format 2 or 1, or the text of a format-1 trace) on a fresh core
 * with no network, and checks every answer of the core against the recording.
 */
export function replay(source: string | { text: string }, coreModule?: WebAssembly.Module): ReplayResult {
  if (typeof source === 'string' && isTrace2(source)) return checkTrace2(source, { coreModule });
  const text = typeof source === 'string' ? readFileSync(source, 'utf8') : source.text;
  const lines = text.split('\n');
  const header = JSON.parse(lines[0]) as Record<string, unknown>;
  if (header.wasinet !== 'trace' || header.version !== TRACE_VERSION) {
    throw new Error(`not a wasinet trace of version ${TRACE_VERSION}: ${lines[0].slice(0, 80)}`);
  }
  let trapped: CoreTrap | null = null;
  const owner: CoreOwner = { now: () => 0, dispatch: () => {}, trapped: (e) => { trapped = e; } };
  let got: { result: number; outputs: OutRecord[]; digest: number } | null = null;
  const tap: Tap = {
    call(_n, _t, _a, _p, result, outputs, digest) {
      got = { result, outputs: outputs.map(outRecord), digest };
    },
  };
  const fresh = () => {
    const c = new Core(owner, coreModule);
    c.tap = tap;
    return c;
  };
  let core = fresh();
  const context: string[] = [];
  let inputs = 0;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const line = JSON.parse(lines[i]) as InputLine & { core?: string };
    if (line.core === 'new') { core = fresh(); trapped = null; continue; }
    inputs++;
    got = null;
    const payload = line.p ? Buffer.from(line.p, 'base64') : null;
    core.replayInput(line.in, line.t, line.args, payload);
    const where = { line: i + 1, input: line.in, time: line.t, handle: line.args[0] ?? 0, context: [...context] };
    const expectedOut = line.out ?? [];
    if (trapped || got === null) {
      return { ok: false, inputs, header, divergence: { ...where, what: 'trap', expected: `result ${line.r}`, actual: String((trapped as CoreTrap | null)?.message ?? 'no answer') } };
    }
    const actual = got as { result: number; outputs: OutRecord[]; digest: number };
    if (actual.result !== line.r) {
      return { ok: false, inputs, header, divergence: { ...where, what: 'result', expected: String(line.r), actual: String(actual.result) } };
    }
    const e = describeOut(expectedOut);
    const a = describeOut(actual.outputs);
    if (JSON.stringify(expectedOut) !== JSON.stringify(actual.outputs)) {
      return { ok: false, inputs, header, divergence: { ...where, what: 'outputs', expected: e || '(none)', actual: a || '(none)' } };
    }
    if (actual.digest !== line.d) {
      return { ok: false, inputs, header, divergence: { ...where, what: 'digest', expected: String(line.d), actual: String(actual.digest) } };
    }
    context.push(`line ${i + 1}: t=${line.t} ${line.in}(${line.args.join(', ')}) -> ${line.r}${e ? ` ${e}` : ''}`);
    if (context.length > 5) context.shift();
  }
  return { ok: true, inputs, header };
}

/** A human-readable account of a divergence (the CLI prints it). */
export function formatDivergence(d: Divergence): string {
  const where = d.record !== undefined ? `input #${d.record}` : `line ${d.line}`;
  return [
    `replay diverged at ${where}: input ${d.input} at t=${d.time} (handle ${d.handle}), ${d.what} differ`,
    `  expected: ${d.expected}`,
    `  actual:   ${d.actual}`,
    ...(d.context.length ? ['  inputs before it:', ...d.context.map((c) => `    ${c}`)] : []),
  ].join('\n');
}
