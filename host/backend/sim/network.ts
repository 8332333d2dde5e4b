// A simulated network: its knobs, its seeded randomness, its clock and event queue (Scheduler),
// its addresses (Addresses) and counts of what it did. Stacks created with `backend: 'sim'`
// attach a SimBackend to a network (their own, or a shared one: stacks on one network reach
// each other). Determinism covers everything that goes through the stack; the docs say what
// falls outside (global timers, other I/O).
import { Rng } from './rng.js';
import { Scheduler } from './scheduler.js';
import { Addresses } from './addresses.js';

export interface SimOptions {
  /** Seed of every random choice (default 1). */
  seed?: number;
  /** One-way latency in ms: a number, or [min, max] drawn per packet (default 1). */
  latency?: number | [number, number];
  /** Sizes of the chunks a receiver reads, [min, max] bytes (default [1, 65536]). */
  chunk?: [number, number];
  /** Send buffer per socket in bytes; 1 gives 1-byte write credit (default 65536). */
  sndbuf?: number;
  /** Receive buffer per socket in bytes (default 131072). */
  rcvbuf?: number;
  /** Probability that a connection attempt is refused (ECONNREFUSED) (default 0). */
  refuse?: number;
  /** Probability, per delivered chunk, that the connection is reset instead (default 0). */
  reset?: number;
  /** Name resolution: host name -> addresses (default: localhost -> 127.0.0.1). */
  hosts?: Record<string, string[]>;
}

/** Counts of what the network did, for tests that report coverage. */
export interface SimStats {
  connects: number; refused: number; resets: number; injectedResets: number; bytes: number;
  chunks: number; fins: number; timers: number; events: number;
}

function withDefaults(options: SimOptions): Required<SimOptions> {
  return {
    seed: options.seed ?? 1,
    latency: options.latency ?? 1,
    chunk: options.chunk ?? [1, 65536],
    sndbuf: Math.max(1, options.sndbuf ?? 65536),
    rcvbuf: Math.max(1, options.rcvbuf ?? 131072),
    refuse: options.refuse ?? 0,
    reset: options.reset ?? 0,
    hosts: options.hosts ?? { localhost: ['127.0.0.1'] },
  };
}

export class SimNetwork extends Scheduler {
  readonly options: Required<SimOptions>;
  readonly stats: SimStats;
  /** Listeners, bound local ports, ephemeral ports, host names. */
  readonly addresses: Addresses;

  constructor(options: SimOptions = {}) {
    const full = withDefaults(options);
    const stats: SimStats = { connects: 0, refused: 0, resets: 0, injectedResets: 0, bytes: 0, chunks: 0, fins: 0, timers: 0, events: 0 };
    super(new Rng(full.seed), stats);
    this.options = full;
    this.stats = stats;
    this.addresses = new Addresses(full);
  }

  /** A one-way latency: the fixed one, or a draw. */
  latency(): number {
    const l = this.options.latency;
    return typeof l === 'number' ? l : this.rng.int(l[0], l[1]);
  }

  /** The size of the next chunk a receiver reads (a draw). */
  chunkSize(): number {
    const [lo, hi] = this.options.chunk;
    return this.rng.int(Math.max(1, lo), Math.max(1, hi));
  }
}
