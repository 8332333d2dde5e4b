// The whole API without a real network: every differential scenario runs on a simulated
// network (the scenario's library and its peer both on one sim stack) and must log exactly
// what node:net logs on real loopback sockets. Left out, with the reason, are the few whose
// subject is the real machine itself: files, OS handles, or event-loop phases of real I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { createStack } from '../../host/index.js';
import { differential, type NetLike, type Scenario } from './diff/harness.js';
import { socketScenarios } from './diff/scenarios-socket.js';
import { connectScenarios } from './diff/scenarios-connect.js';
import { socketIoScenarios } from './diff/scenarios-socket-io.js';
import { serverScenarios } from './diff/scenarios-server.js';

const NOT_ON_SIM: Record<string, string> = {
  'allowHalfOpen true, peer ends first: we keep writing, then end ourselves':
    'orders two sockets\' events across a wall-clock sleep: real-loopback timing',
  'write in the end handler without allowHalfOpen: "This socket has been ended by the other party"':
    'depends on where setImmediate falls between libuv\'s poll and close phases',
  'setTimeout with a callback: a once listener, removed by setTimeout(0, cb); activity restarts the timer':
    'races socket timeouts against wall-clock sleeps',
  'setTimeout: the peer\'s FIN is activity too (allowHalfOpen): the idle timer restarts at the end':
    'races socket timeouts against wall-clock sleeps',
  'setTimeout while a write waits for a peer that does not read: the first expiry is put off (the write\'s queue moved since it was made), the second is \'timeout\'':
    'races socket timeouts against wall-clock sleeps (the simulated clock runs ahead while nothing happens)',
  'IPC server lifecycle: listen(path), file, one connection, close unlinks': 'checks the socket file on disk',
  'IPC EADDRINUSE (path in use, and a regular file), then listen elsewhere': 'needs a regular file on disk',
  'IPC client errors: ENOENT on a missing path, ECONNREFUSED on a socket nobody listens on': 'needs a stale socket file on disk',
  'listen(handle): a listening peer server handed to the library': 'needs an OS handle of a real server',
  'listen({ fd }) with a descriptor that is not an integer: EINVAL from listen, whatever the descriptor below it is': 'needs an OS descriptor of a real server',
  'address() and localAddress/localPort/localFamily while connecting: {} before the connect call, the bound name after it, kept from the first ask until connect':
    'the simulated network gives a connecting socket its local port when the handshake completes, not at the connect call',
  'a writev of 1025 to 2048 buffers completes before the check phase, ahead of a setImmediate queued before it (made in an I/O callback and in a timer)':
    'needs the kernel to take 200 KB at once (loopback\'s autotuned buffers); the simulated socket buffer is smaller',
  'a writev of 1025 to 2048 buffers completes after the ticks and promise reactions the writing code chains (libuv\'s pending phase comes after them)':
    'needs the kernel to take 110 KB at once (loopback\'s autotuned buffers); the simulated socket buffer is smaller',
  'end() right after a writev of 1025 to 2048 buffers, as the peer ends: the shutdown is made where libuv completes the writev, so \'finish\' comes before the peer\'s end is read (TCP and Unix)':
    'orders a shutdown by where libuv completes a long writev (its pending callbacks) against a poll phase\'s reads; the simulated network has neither',
  'a writev of more than 2048 buffers completes from the next iterations\' pending phases: after their timers, before a peer\'s reads in their poll (made in an I/O callback and in a check-phase callback)':
    'orders a long writev\'s completion by the phases of libuv\'s loop and the kernel taking 110 KB at once; the simulated network has neither',
  "a writev of more than IOV_MAX buffers on a socket destroyed right after it: its callback comes as the handle closes, after a setImmediate queued before, before 'close' (made in an I/O callback and in a timer)":
    'orders a long writev\'s completion by the phases of libuv\'s loop (its handle\'s close) and the kernel taking 110 KB at once; the simulated network has neither',
  'a writev of more than IOV_MAX buffers whose first system call fails (a Unix peer that is gone: EPIPE) fails in write() itself, as a short one does':
    'needs the kernel to take or refuse 100 KB in one call; the simulated socket buffer is smaller, so the writev waits for room before it meets the closed peer',
  'destroy(err) right after connect(): \'close\' comes from the close phase, after the setImmediate callbacks queued before it (the handle made at connect closes; the last closed first)':
    'the simulated network runs its events from setImmediate steps of its own scheduler: it has no close phase to order a close by',
  'a write of nothing is a system call: on a healthy socket it completes, after the peer reset it fails with ECONNRESET (Buffer, string, end(empty))':
    'needs the peer\'s reset in the kernel before the write (loopback delivers it at once; the simulated network has latency)',
  'writing to a peer that closed: the first system call is taken, a later one (IOV_MAX buffers on, or the rest of a long write) fails the write with EPIPE':
    'needs the kernel\'s answers: a reset from the closed peer between two system calls, and how much one call takes',
  "writes made while connecting to a server that drops the connection at once: the second fails, and end()'s callback gets the error before the destroy":
    'needs the kernel\'s answers: a reset from the closed peer inside the first write\'s own system call (loopback), before the second',
  'a corked writev of more than IOV_MAX (1024) buffers completes in a later iteration of the loop: writableLength, callbacks, drain':
    'needs the kernel to take 500 KB at once (loopback\'s autotuned buffers); the simulated socket buffer is smaller',
};

const groups: [string, Scenario[]][] = [
  ['socket', socketScenarios], ['socket connect', connectScenarios], ['socket io', socketIoScenarios], ['server', serverScenarios],
];

for (const [group, scenarios] of groups) {
  for (const s of scenarios) {
    const skip = NOT_ON_SIM[s.name];
    test(`sim ${group}: ${s.name}`, { skip: skip ? `not on the sim: ${skip}` : false, timeout: 30000 }, async () => {
      const { diff } = await differential(s, nodeNet, () => {
        const sim = createStack({ backend: 'sim', seed: 1 }) as unknown as NetLike;
        return { lib: sim, peer: sim }; // a fresh simulated network for each run
      });
      assert.equal(diff, null, diff ?? '');
    });
  }
}

test('every name the sim leaves out is a scenario that exists', () => {
  const names = new Set(groups.flatMap(([, list]) => list.map((s) => s.name)));
  for (const name of Object.keys(NOT_ON_SIM)) assert.ok(names.has(name), name);
});
