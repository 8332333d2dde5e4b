// A fingerprint of every simulated network a test process runs, to check that a change to the
// simulator (host/backend/sim*) changes no behaviour. Preload it into every test process:
//
//   SIM_FINGERPRINT_DIR=/tmp/fp-before NODE_OPTIONS="--import $PWD/scripts/sim-fingerprint.mjs" npm test -- sim
//   (change the simulator, rebuild)
//   SIM_FINGERPRINT_DIR=/tmp/fp-after  NODE_OPTIONS="--import $PWD/scripts/sim-fingerprint.mjs" npm test -- sim
//   diff -r /tmp/fp-before /tmp/fp-after
//
// It hooks only what a refactor of the simulator keeps: the public Rng class (every random draw
// of a network: event tie-breaks, latencies, chunk sizes, refusals, resets) and the core's tap
// (every input the core gets from the backend, with its virtual time, arguments, payload, result,
// output records and handle digest). Per network, the log is every draw (its value, the virtual
// time and the number of events run so far) and every core input, in order; the file
// <test file>.txt gets one line per network, in the order the networks first drew: its log's
// sha256, the sha256 of its shape (the same log with payloads as lengths and no handle digests:
// it stays equal where payloads carry wall-clock dates or random masks, as HTTP and ws do), and
// its sizes. Networks that run against wall-clock timers differ between two runs of the same
// code: compare only those that two runs before the change agree on. A shape still holds
// payload lengths: IPC paths that carry the process id change length when the pid gains a digit. A stack that sets its own tap keeps it (its later inputs are not logged).
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const dir = process.env.SIM_FINGERPRINT_DIR;
if (dir) {
  const build = new URL('../build/host/', import.meta.url);
  const { Rng } = await import(new URL('backend/sim.js', build).href);
  const { Stack } = await import(new URL('net/stack.js', build).href);

  /** Per network (keyed by its Rng): the running hash of its log. */
  const logs = [];
  const byRng = new WeakMap();
  const networkOf = new WeakMap(); // Rng -> SimNetwork
  const logOf = (rng) => {
    let l = byRng.get(rng);
    if (!l) {
      l = { hash: createHash('sha256'), shape: createHash('sha256'), draws: 0, inputs: 0 };
      byRng.set(rng, l);
      logs.push(l);
    }
    return l;
  };

  const next = Rng.prototype.next;
  Rng.prototype.next = function () {
    const v = next.call(this);
    const l = logOf(this);
    const net = networkOf.get(this);
    l.draws++;
    const line = `d ${v} t=${net ? net.now : '?'} e=${net ? net.stats.events : '?'}\n`;
    l.hash.update(line);
    l.shape.update(line);
    return v;
  };

  const coreGetter = Object.getOwnPropertyDescriptor(Stack.prototype, 'core').get;
  Object.defineProperty(Stack.prototype, 'core', {
    configurable: true,
    get() {
      const core = coreGetter.call(this);
      const net = this.backend && this.backend.kind === 'sim' ? this.backend.network : null;
      if (net && core.tap === null) {
        networkOf.set(net.rng, net);
        const l = logOf(net.rng);
        core.tap = {
          call(name, now, args, payload, result, outputs, digest) {
            l.inputs++;
            const bytes = (b) => (b ? createHash('sha256').update(b).digest('hex').slice(0, 16) : '-');
            const out = outputs.map((o) => `${o.op},${o.h},${o.a},${o.b},${o.c},`);
            const head = `i ${name} t=${now} [${args.join(',')}] r=${result}`;
            l.hash.update(`${head} ${bytes(payload)} d=${digest} out=${outputs.map((o, i) => out[i] + bytes(o.data)).join(';')}\n`);
            l.shape.update(`${head} ${payload ? payload.length : 0} out=${outputs.map((o, i) => out[i] + (o.data ? o.data.length : 0)).join(';')}\n`);
          },
          reset() { l.hash.update('core new\n'); l.shape.update('core new\n'); },
        };
      } else if (net) {
        networkOf.set(net.rng, net);
      }
      return core;
    },
  });

  process.on('exit', () => {
    if (logs.length === 0) return;
    mkdirSync(dir, { recursive: true });
    const name = basename(process.argv[1] ?? 'main');
    const lines = logs.map((l, i) => `${i} ${l.hash.digest('hex')} shape=${l.shape.digest('hex')} draws=${l.draws} inputs=${l.inputs}`);
    appendFileSync(join(dir, `${name}.txt`), `${lines.join('\n')}\n`);
  });
}
