// `new Socket({ signal })`: the socket is destroyed with an AbortError when the signal aborts.
// On Node this is node:stream's own addAbortSignal. Deno's and Bun's node:stream have one too,
// but Bun's makes a plain Error and words its argument check differently: on those runtimes
// the socket uses this copy of Node 20's behaviour instead (written from its documentation).
import { addAbortSignal as streamAddAbortSignal, finished, type Duplex } from 'node:stream';
import { validateAbortSignal } from './validate.js';

/** Node's AbortError: its class name, code and default message. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

const onNode = (globalThis as { Deno?: unknown; Bun?: unknown }).Deno === undefined &&
  (globalThis as { Bun?: unknown }).Bun === undefined;

export function addAbortSignal(signal: AbortSignal, stream: Duplex): void {
  if (onNode) {
    streamAddAbortSignal(signal, stream);
    return;
  }
  validateAbortSignal(signal, 'signal');
  const onAbort = () => stream.destroy(new AbortError(undefined, { cause: signal.reason }));
  if (signal.aborted) {
    onAbort();
    return;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  finished(stream, () => signal.removeEventListener('abort', onAbort));
}
