// stack.usage(): what a stack uses, each against its limit, read from the core's counters.
import type { Stack } from './stack.js';
import { LIMIT_NAMES } from './policy.js';

export interface Use {
  used: number;
  /** The limit, or Infinity when the stack has none. */
  limit: number;
}

export interface StackUsage {
  /** Sockets with a transport (connecting, connected, accepted, opened) until their 'close'. */
  sockets: Use;
  /** Servers binding or listening. */
  listeners: Use;
  /** The most bytes one socket's queues hold now. */
  socketBuffer: Use;
  /** Bytes every socket's queues hold now. */
  stackBuffer: Use;
  /** Bytes written over the stack's life. */
  sent: Use;
  /** Bytes received over the stack's life. */
  received: Use;
  /** The core's linear memory, in bytes. */
  coreMemory: Use;
  /** Accepted connections closed at once because `sockets` were all in use. */
  dropped: number;
  /** Connects, listens and opens the policy refused. */
  refused: number;
}

// assembly/index.ts, usage(): which counter answers for which limit.
const COUNTER = { sockets: 0, listeners: 1, socketBuffer: 8, stackBuffer: 2, sent: 3, received: 4, coreMemory: 5 } as const;

export function usageOf(stack: Stack): StackUsage {
  const core = stack.core;
  const limits = stack.limits;
  const out: Record<string, unknown> = {};
  LIMIT_NAMES.forEach((name, i) => {
    const limit = limits && limits[i] >= 0 ? limits[i] : Infinity;
    out[name] = { used: core.dead ? 0 : core.usage(COUNTER[name]), limit };
  });
  out.dropped = core.dead ? 0 : core.usage(6);
  out.refused = core.dead ? 0 : core.usage(7);
  return out as unknown as StackUsage;
}
