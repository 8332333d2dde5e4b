// Code written for node:net, importing wasinet instead: it must type-check unchanged.
import net, { Socket, Server, createServer, connect, isIP, createStack, replay, type AddressInfo } from 'wasinet';
import type { Socket as NodeSocket } from 'node:net';

const server: Server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
  socket.on('data', (chunk: Buffer) => socket.write(chunk));
  socket.on('end', () => socket.end());
  socket.on('close', (hadError: boolean) => console.log(hadError));
  socket.setTimeout(1000, () => socket.destroy());
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  const c: NodeSocket = connect({ port, host: '127.0.0.1', noDelay: true }, () => c.end('x'));
  c.on('error', (err: NodeJS.ErrnoException) => console.log(err.code, err.syscall));
  const s2 = new net.Socket({ allowHalfOpen: false });
  s2.connect(port, () => s2.destroy());
  console.log(isIP('::1') + net.isIPv4('1.2.3.4').toString(), c.bytesWritten, c.readyState);
});

const sim = createStack({ backend: 'sim', seed: 1, latency: [1, 5] });
const simServer = sim.createServer((s) => s.pipe(s));
simServer.listen(80);
sim.setTimeout(() => simServer.close(), 100);
void sim.run().then(() => console.log(sim.now(), sim.network?.stats.events));
const result = replay('/tmp/x.trace');
console.log(result.ok, result.divergence?.line);
