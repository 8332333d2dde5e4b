// Run by tests/host/runtimes.test.ts on Deno and Bun: wasinet's default stack connects to the
// port given (a server that never reads), writes 32 MiB, and destroy()s the socket while the
// write waits. 'close' must come, and the process must then end by itself: bytes a backend still
// holds for a peer that takes none of them must not keep it alive (Linger, runtime-common.ts).
// Prints one JSON line when 'close' comes.
import net from '../../host/index.js';

declare const Deno: { args: string[] } | undefined;
const args = typeof Deno !== 'undefined' ? Deno.args : process.argv.slice(2);
const t0 = Date.now();
const c = net.connect(Number(args[0]), '127.0.0.1');
c.on('error', () => {});
c.on('connect', () => {
  let cb = 'pending';
  c.write(Buffer.alloc(32 << 20, 5), (err) => { cb = err ? String((err as NodeJS.ErrnoException).code ?? err) : 'null'; });
  setTimeout(() => c.destroy(), 100);
  c.on('close', (hadError) => {
    process.stdout.write(JSON.stringify({ close: hadError, callback: cb, destroyed: c.destroyed, ms: Date.now() - t0 }) + '\n');
  });
});
