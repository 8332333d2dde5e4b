// What an application replay reports when the application departs from its recording: the
// divergence (which socket, which call, recorded against actual, where the application made it)
// and its text.
export interface AppDivergence {
  /** Position of the recorded input expected (0-based among inputs; reports say seq + 1) and its time. */
  seq: number;
  t: number;
  /** The socket or listener (a lane label), or null for calls about no handle. */
  socket: string | null;
  recorded: string;
  actual: string;
  /** Where the application made the call (null when it made none). */
  stack: string | null;
  reason: 'different call' | 'missing call' | 'late call' | 'core answered differently';
  /** The application made no call where `recorded` was made; `actual` is the first call it made after that which the recording does not have. */
  skipped: boolean;
  /** The same call with other bytes: the first byte that differs, and both payloads from a little before it. */
  bytes?: { at: number; recorded: string; actual: string; note?: string };
}

export class ReplayDivergenceError extends Error {
  override name = 'ReplayDivergenceError';
  constructor(readonly divergence: AppDivergence) {
    super(formatAppDivergence(divergence));
  }
}

export function formatAppDivergence(d: AppDivergence): string {
  const lines = [
    `replay diverged at input ${d.seq + 1} (t=${d.t} ms)${d.socket ? ` on ${d.socket}` : ''}: ${d.reason}`,
    `  recorded: ${d.recorded}`,
    `  actual:   ${d.skipped ? '(no call there; the next call not in the recording) ' : ''}${d.actual}`,
  ];
  if (d.bytes) lines.push(`  bytes differ from byte ${d.bytes.at}:`, `    recorded ${d.bytes.recorded}`, `    actual   ${d.bytes.actual}`);
  if (d.bytes?.note) lines.push(`  note: ${d.bytes.note}`);
  if (d.stack) lines.push('  made at:', ...d.stack.split('\n').map((l) => `    ${l.trim()}`));
  return lines.join('\n');
}

/** The application's stack: frames outside wasinet's own host code and Node's internals. */
export function appStack(): string {
  const here = new URL('..', import.meta.url).pathname;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60; // the application's frames are below the stream's and ours
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  Error.stackTraceLimit = limit;
  const app = frames.filter((f) => !f.includes(here) && !f.includes('node:internal') && !f.includes('(node:'));
  if (app.length > 0) return app.slice(0, 8).join('\n');
  // Made by wasinet for the application, later: a write queued while connecting, a stream
  // reading on. Its own frames still say which path.
  const own = frames.filter((f) => !/appStack|AppReplayer|#fast|#call/.test(f)).slice(0, 6);
  return ['(no application frame: wasinet made this call for the application — e.g. a write queued while connecting)', ...own].join('\n');
}

