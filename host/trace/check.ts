// Replaying a format-2 trace on a fresh core, with no network and no application: every input
// goes in as recorded, and the core's result, the digest of its outputs and the digest of the
// touched handle's state must come out as recorded. The first difference stops the replay.
// `onInput` sees every input with the outputs the core re-derived (the timeline uses it).
import { Core, type CoreOwner, type CoreTrap, type InputTap, type Output, type Tap, opName } from '../core/core.js';
import { inputHandle } from '../core/inputs.js';
import { TraceReader, type InputRecord, type TraceRecord } from './reader.js';
import { outputDigestOf } from './format.js';
import { encodePolicy, limitValues } from '../net/policy.js';
import type { Divergence, ReplayResult } from '../core/trace.js';

export interface CheckOptions {
  coreModule?: WebAssembly.Module;
  /** Every input with the outputs the core gave (copies), in order; meta records too. */
  onRecord?(r: TraceRecord, outputs: readonly Output[] | null): void;
}

export function describeOutputs(outputs: readonly Output[]): string {
  return outputs.map((o) => {
    const data = o.data && o.data.length > 0 ? ` data=${o.data.length}B:${o.data.subarray(0, 18).toString('base64')}` : '';
    return `${opName(o.op)}(h=${o.h} a=${o.a} b=${o.b} c=${o.c}${data})`;
  }).join(' ') || '(none)';
}

export function describeInput(r: InputRecord): string {
  const p = r.payload ? ` +${r.payload.length}B` : '';
  return `#${r.seq + 1} t=${r.t} ${r.name}(${r.args.join(', ')})${p} -> ${r.result}`;
}

/**
 * The stack's policy and limits are in the header (as given to createStack) and in the inputs
 * that hand them to the core (apiPolicy, apiLimits): a replay checks that both say the same.
 */
function sandboxDiffers(header: Record<string, unknown>, r: InputRecord): { expected: string; actual: string } | null {
  if (r.name === 'apiPolicy' && header.policy !== undefined) {
    const want = Buffer.from(encodePolicy(header.policy));
    if (!want.equals(Buffer.from(r.payload ?? []))) return { expected: `the header's policy ${JSON.stringify(header.policy)}`, actual: 'another policy in apiPolicy' };
  }
  if (r.name === 'apiLimits' && header.limits !== undefined) {
    const want = limitValues(header.limits);
    if (want.some((v, i) => v !== r.args[i])) return { expected: `the header's limits ${JSON.stringify(header.limits)}`, actual: `apiLimits(${r.args.join(', ')})` };
  }
  return null;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export function checkTrace2(file: string, options: CheckOptions = {}): ReplayResult {
  const reader = new TraceReader(file);
  let trapped: CoreTrap | null = null;
  const owner: CoreOwner = { now: () => 0, dispatch: () => {}, trapped: (e) => { trapped = e; } };
  let got: { result: number; outHash: number; digest: number } | null = null;
  let outs: Output[] = [];
  const itap: InputTap = {
    input: (_id, now) => now,
    output: (result, outHash, digest) => { got = { result, outHash: outHash >>> 0, digest: digest >>> 0 }; },
  };
  const tap: Tap = { call: (_n, _t, _a, _p, _r, outputs) => { outs = outputs.map((o) => ({ ...o })); } };
  const fresh = (): Core => {
    const c = new Core(owner, options.coreModule);
    c.inputTap = itap;
    c.outputDigest = outputDigestOf(reader.header);
    c.tap = tap;
    return c;
  };
  let core = fresh();
  const context: string[] = [];
  let inputs = 0;
  let last: InputRecord | null = null;
  const diverged = (r: InputRecord, what: Divergence['what'], expected: string, actual: string): ReplayResult => {
    reader.close();
    return {
      ok: false, inputs, header: reader.header as unknown as Record<string, unknown>,
      divergence: {
        line: r.seq + 1, record: r.seq + 1, input: r.name, time: r.t, handle: inputHandle(r.name, r.args, r.result),
        what, expected, actual, context: [...context],
      },
    };
  };
  let ending: 'closed' | 'stopped' | 'open' = 'open';
  let stopped: string | undefined;
  for (let r = reader.next(); r !== null; r = reader.next()) {
    if (r.kind === 'meta') {
      options.onRecord?.(r, null);
      if (r.type === 'end') ending = 'closed';
      else if (r.type === 'truncated') { ending = 'stopped'; stopped = String(r.data.reason ?? ''); }
      if (r.type === 'core-new') { core = fresh(); trapped = null; }
      else if (r.type === 'trap' && last && !trapped) {
        return diverged(last, 'trap', 'the core trapped', `result ${got === null ? '?' : (got as { result: number }).result}`);
      }
      continue;
    }
    inputs++;
    got = null;
    outs = [];
    const sandbox = sandboxDiffers(reader.header, r);
    if (sandbox !== null) return diverged(r, r.name === 'apiPolicy' ? 'policy' : 'limits', sandbox.expected, sandbox.actual);
    core.replayInput(r.name, r.t, r.args, r.payload);
    last = r;
    options.onRecord?.(r, outs);
    if (trapped || got === null) {
      // A trap the recording also saw is announced by the next record.
      const next = reader.next();
      if (next?.kind === 'meta' && next.type === 'trap') { options.onRecord?.(next, null); continue; }
      return diverged(r, 'trap', `result ${r.result}`, String((trapped as CoreTrap | null)?.message ?? 'no answer'));
    }
    const a = got as { result: number; outHash: number; digest: number };
    if (a.result !== r.result) return diverged(r, 'result', String(r.result), String(a.result));
    if (a.outHash !== r.outHash) {
      return diverged(r, 'outputs', `outputs with digest ${hex(r.outHash)}`, `${describeOutputs(outs)} (digest ${hex(a.outHash)})`);
    }
    if (a.digest !== r.digest) return diverged(r, 'digest', String(r.digest), String(a.digest));
    context.push(describeInput(r));
    if (context.length > 5) context.shift();
  }
  return { ok: true, inputs, header: reader.header as unknown as Record<string, unknown>, ending, ...(stopped === undefined ? {} : { stopped }) };
}
