// The sim backend: an in-memory network with a virtual clock and a seeded scheduler. This module
// is what the rest of wasinet imports; each idea has its own file under sim/:
//
//   rng.ts        the only source of randomness (mulberry32)
//   scheduler.ts  the virtual clock and the one queue of pending events (seeded tie-breaks)
//   addresses.ts  listeners, bound ports, ephemeral ports, host names (Linux's clash rules)
//   network.ts    SimNetwork: the knobs, stats, a Scheduler with its Addresses
//   tcp-end.ts    one end of a connection: send buffer, wire, receive buffer, FIN, RST
//   backend.ts    SimBackend: one stack's core commands carried on a network
//
// docs/design.md ("The simulated network") and docs/replay.md say what it models and what
// falls outside its determinism.
export { Rng } from './sim/rng.js';
export type { SimEvent } from './sim/scheduler.js';
export { SimNetwork, type SimOptions, type SimStats } from './sim/network.js';
export { SimBackend } from './sim/backend.js';
