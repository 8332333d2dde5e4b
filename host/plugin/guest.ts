// Starting a compiled guest on a stack: the part of a plugin's life that is the same in its
// worker thread (loadPlugin) and on a caller's own stack (loadPlugin with `stack`, used for
// simulation). The worker adds the watchdog and the messages; this file adds neither.
import { randomFillSync } from 'node:crypto';
import type { StackApi } from '../net/create.js';
import { GuestRuntime, type GuestHooks, type PluginExit } from './runtime.js';

export interface GuestConfig {
  args: string[];
  env: Record<string, string>;
  /** The guest memory's maximum in bytes (the module was compiled with it). */
  maxBytes: number;
  /** Seed of the guest's random_get on a simulated stack. */
  seed: number;
}

/** Instantiates `module` on `net` and runs its start; `exited` is told once, however it ends. */
export function runGuest(module: WebAssembly.Module, net: StackApi, config: GuestConfig,
  hooks: Omit<GuestHooks, 'args' | 'env' | 'random'>): GuestRuntime | null {
  let rt: GuestRuntime;
  try {
    rt = new GuestRuntime(module, net, {
      ...hooks,
      args: config.args,
      env: config.env,
      random: net.network ? seededRandom(config.seed) : (into) => { randomFillSync(into); },
    }, config.maxBytes);
  } catch (err) {
    // Instantiation fails when a data segment does not fit or the start function traps.
    hooks.exited({ reason: 'load', code: 1, message: `could not instantiate: ${(err as Error).message}` } satisfies PluginExit);
    return null;
  }
  rt.start();
  return rt;
}

/** random_get on the sim: a seeded xorshift32, so the same seed gives the same guest. */
function seededRandom(seed: number): (into: Uint8Array) => void {
  let x = (seed >>> 0) || 0x9e3779b9;
  return (into) => {
    for (let i = 0; i < into.length; i++) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      into[i] = x & 0xff;
    }
  };
}
