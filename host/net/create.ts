// createStack(): a `net`-shaped object with its own core instance and backend.
import { Stack } from './stack.js';
import { makeNet, type NetApi } from './api.js';
import type { Backend } from '../backend/backend.js';
import { NodeBackend } from '../backend/node.js';
import { coreWasm } from '../core/wasm.js';

export interface CreateStackOptions {
  /** 'node' (real sockets, the default) or a Backend object. */
  backend?: 'node' | Backend;
  /** File name of another core build in build/ (tests use 'testing.wasm'). */
  coreBuild?: string;
}

export interface StackApi extends NetApi {
  /** The stack itself: its core, backend and clock. */
  readonly stack: Stack;
  /** Runs `fn` after `delay` ms on the stack's clock (virtual on the sim backend). */
  setTimeout(fn: () => void, delay?: number): number;
  clearTimeout(id: number): void;
  /** The stack's clock, in ms. */
  now(): number;
}

export function createStack(options: CreateStackOptions = {}): StackApi {
  const backend = options.backend === undefined || options.backend === 'node' ? new NodeBackend() : options.backend;
  const stack = new Stack(backend, { module: options.coreBuild ? coreWasm(options.coreBuild) : undefined });
  return {
    ...makeNet(stack),
    stack,
    setTimeout: (fn, delay) => stack.setTimeout(fn, delay),
    clearTimeout: (id) => stack.clearTimeout(id),
    now: () => stack.now(),
  };
}
