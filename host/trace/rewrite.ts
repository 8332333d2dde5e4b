// Rewriting a trace record by record: to cut it, to edit it (tests change a byte or a time and
// check that replay notices), or to change its compression.
import { TraceReader, type TraceRecord } from './reader.js';
import { TraceRecorder2, type RecordOptions } from './recorder.js';
import { outputDigestOf, writeHeadOf } from './format.js';

/**
 * Copies the trace `src` to `dst` (options as for `record`), passing each record through `edit`:
 * return it (changed or not), or null to leave it out.
 */
export async function rewriteTrace(src: string, dst: string | RecordOptions,
  edit: (r: TraceRecord) => TraceRecord | null = (r) => r): Promise<number> {
  const reader = new TraceReader(src);
  // The source's writes stay as it kept them (whole, or their heads).
  const out = new TraceRecorder2({ ...(typeof dst === 'string' ? { path: dst } : dst), writeHead: writeHeadOf(reader.header) },
    reader.header.core, outputDigestOf(reader.header),
    { policy: reader.header.policy, limits: reader.header.limits, random: reader.header.random, clock: reader.header.clock }, reader.header.loops === true);
  let n = 0;
  for (const r of reader) {
    const e = edit(r);
    if (e === null) continue;
    out.writeRecord(e);
    n++;
  }
  await out.close();
  return n;
}
