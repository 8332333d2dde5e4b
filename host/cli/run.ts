// `wasinet run PLUGIN.wasm [options] [-- plugin args]`: runs a guest (docs/guest.md) under a
// policy built from the --allow-* flags. With no --allow-* flag the guest may reach nothing:
// the policy is always present, so what no flag allows is refused with EACCES (docs/sandbox.md).
// Exit status: the guest's own (0 when it ends with nothing left to do), 1 when it is ended for
// a trap, a fault, memory or cpu, 2 for a bad command line or an unloadable file, 130 on SIGINT.
import { existsSync } from 'node:fs';
import { loadPlugin, GuestLoadError, type PluginLimits } from '../plugin/load.js';

export const RUN_USAGE = `usage: wasinet run PLUGIN.wasm [options] [-- plugin args]

Runs an untrusted WebAssembly guest (docs/guest.md) in its own thread, on its own stack.
It may reach only what the options allow; anything else fails in the guest with EACCES.

  --allow-connect HOST:PORTS  allow connecting there (repeatable; e.g. 127.0.0.1:6379,
                              10.0.0.0/8:80-89, [::1]:*, *.example.com:443)
  --allow-listen HOST:PORTS   allow listening there (repeatable; e.g. 127.0.0.1:8080)
  --allow-ipc PREFIX          allow Unix socket / pipe paths under PREFIX (repeatable)
  --limit NAME=VALUE          a limit (repeatable): cpuMs (per callback, default 1000),
                              memory (guest bytes), or a stack limit: sockets, listeners,
                              socketBuffer, stackBuffer, sent, received, coreMemory
  --sim                       run on a simulated network of its own (no real sockets)
  --seed N                    seed of the simulated network (with --sim; default 1)
  --record FILE               record the plugin's stack into FILE (replay: wasinet replay FILE)
  -h, --help                  print this and exit

Exit status: the plugin's (0 when it ends with nothing left to do); 1 when it is stopped for a
trap, a bad import call, memory or cpu; 2 for a bad command line or a file that is not a guest.`;

const RULE = /^(.+):(\*|\d{1,5}(-\d{1,5})?)$/;
const LIMITS = new Set(['cpuMs', 'memory', 'sockets', 'listeners', 'socketBuffer', 'stackBuffer', 'sent', 'received', 'coreMemory']);

class UsageError extends Error {}

interface RunArgs {
  file: string;
  connect: string[];
  listen: string[];
  ipc: string[];
  limits: PluginLimits;
  sim: boolean;
  seed?: number;
  record?: string;
  args: string[];
}

/** Parses the command line after `run`; throws UsageError with one line. */
export function parseRunArgs(argv: string[]): RunArgs | 'help' {
  const out: RunArgs = { file: '', connect: [], listen: [], ipc: [], limits: {}, sim: false, args: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    const rule = (v: string) => {
      if (!RULE.test(v)) throw new UsageError(`${a} ${v}: expected HOST:PORTS (a port, a range a-b, or *)`);
      return v;
    };
    if (a === '--') { out.args = argv.slice(i + 1); break; }
    else if (a === '-h' || a === '--help') return 'help';
    else if (a === '--allow-connect') out.connect.push(rule(value()));
    else if (a === '--allow-listen') out.listen.push(rule(value()));
    else if (a === '--allow-ipc') out.ipc.push(value());
    else if (a === '--limit') {
      const v = value();
      const m = /^([A-Za-z]+)=(\d+(\.\d+)?)$/.exec(v);
      if (!m) throw new UsageError(`--limit ${v}: expected NAME=NUMBER`);
      if (!LIMITS.has(m[1])) throw new UsageError(`--limit ${m[1]}: unknown limit (known: ${[...LIMITS].join(', ')})`);
      out.limits[m[1]] = Number(m[2]);
    } else if (a === '--sim') out.sim = true;
    else if (a === '--seed') {
      const v = value();
      if (!/^\d+$/.test(v)) throw new UsageError(`--seed ${v}: expected a non-negative integer`);
      out.seed = Number(v);
    } else if (a === '--record') out.record = value();
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a} (see wasinet run --help)`);
    else if (out.file === '') out.file = a;
    else throw new UsageError(`unexpected argument ${a} (plugin arguments go after --)`);
  }
  if (out.file === '') throw new UsageError('no plugin file given (see wasinet run --help)');
  if (out.seed !== undefined && !out.sim) throw new UsageError('--seed needs --sim');
  return out;
}

export async function run(argv: string[]): Promise<number> {
  let parsed: RunArgs | 'help';
  try {
    parsed = parseRunArgs(argv);
    if (parsed !== 'help' && !existsSync(parsed.file)) throw new UsageError(`${parsed.file}: no such file`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`wasinet run: ${err.message}`);
    return 2;
  }
  if (parsed === 'help') {
    console.log(RUN_USAGE);
    return 0;
  }
  const o = parsed;
  let plugin;
  try {
    plugin = loadPlugin(o.file, {
      policy: { connect: o.connect, listen: o.listen, ipc: o.ipc },
      limits: o.limits,
      args: o.args,
      backend: o.sim ? 'sim' : 'node',
      seed: o.seed,
      record: o.record,
    });
  } catch (err) {
    if (!(err instanceof GuestLoadError)) throw err;
    console.error(`wasinet run: ${o.file}: ${err.message}`);
    return 2;
  }
  let interrupted = false;
  const onSignal = () => { interrupted = true; void plugin.stop(); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = await plugin.exited;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (interrupted) return 130;
  if (result.reason !== 'done' && !(result.reason === 'exit' && result.code === 0)) {
    console.error(`wasinet run: plugin ended (${result.reason}): ${result.message}`);
  }
  return result.code;
}
