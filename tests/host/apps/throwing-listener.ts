// An unmodified program whose event listener throws (argv[2] names which). With no handler for
// uncaught exceptions, node:net's process prints where the listener threw — its file, line and
// source, a caret — then the error, and exits with 1. Under wasinet/register the same must
// come out (tests/host/uncaught.test.ts): wasinet must not catch a listener's exception and
// throw it again from its own code, which Node would then print as the place it was thrown.
// With argv[3] === 'handled', an 'uncaughtException' handler logs each exception, and the
// program logs the events that follow until its sockets are closed (or a second passed): what a
// program that survives its listener's exception sees.
import net from 'node:net';
import type { AddressInfo } from 'node:net';

// Which net this is (the test checks the hook is in force): wasinet's module has createStack.
if (process.env.SAY_NET) console.log('createStack' in net ? 'wasinet' : 'node:net');
const which = process.argv[2];
const handled = process.argv[3] === 'handled';
const log = (s: string): void => { if (handled) console.log(s); };
if (handled) process.on('uncaughtException', (err) => log(`uncaught: ${err.message}`));
// A listener's exception can leave a program waiting (on node:net too: a throwing 'connect'
// listener stops the socket from starting to read): it says so and ends after a second.
if (handled) setTimeout(() => { log('still waiting after 1 s'); process.exit(0); }, 1000).unref();

function watch(name: string, s: net.Socket): net.Socket {
  for (const ev of ['connect', 'end', 'finish', 'close', 'error', 'timeout']) {
    s.on(ev, (x?: unknown) => log(`${name} ${ev}${x instanceof Error ? ` ${(x as NodeJS.ErrnoException).code}` : ''}`));
  }
  s.on('data', (d: Buffer) => log(`${name} data ${d.length}`));
  return s;
}

const server = net.createServer((s) => {
  watch('accepted', s);
  if (which === 'connection') {
    setImmediate(() => s.end('hello'));
    throw new Error('thrown by the connection listener');
  }
  s.end('hello');
});
server.on('close', () => log('server close'));
server.listen(0, '127.0.0.1', () => {
  if (which === 'listening') throw new Error('thrown by the listen callback');
  const port = (server.address() as AddressInfo).port;
  if (which === 'error') {
    const c = net.connect(1, '127.0.0.1');
    c.on('error', () => { throw new Error('thrown by the error listener'); });
    c.on('close', () => { log('refused close'); server.close(); });
    return;
  }
  if (which === 'unhandled-error') {
    net.connect(1, '127.0.0.1').on('close', () => server.close());
    return;
  }
  const c = watch('client', net.connect(port, '127.0.0.1'));
  c.on('connect', () => {
    if (which === 'connect') throw new Error('thrown by the connect listener');
    c.write('x', () => {
      if (which === 'write') throw new Error('thrown by the write callback');
    });
  });
  c.on('data', () => {
    if (which === 'data') throw new Error('thrown by the data listener');
  });
  c.on('end', () => {
    if (which === 'end') throw new Error('thrown by the end listener');
    c.end();
  });
  c.on('close', () => {
    server.close();
    if (which === 'close') throw new Error('thrown by the close listener');
  });
});
