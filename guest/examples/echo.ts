// echo: listens on 127.0.0.1 and the port given as its first argument (the host given as its
// second, if any), sends back every byte it receives, and honours half-close: when a client
// ends its side, echo ends its own once everything has been sent back.
export * from "../exports";
import { createServer, Server, Socket, SocketError, ALLOW_HALF_OPEN, log, exit } from "../wasinet";

const argv = process.argv;
if (argv.length < 2) {
  log("usage: echo PORT [HOST]");
  exit(2);
}
const host = argv.length > 2 ? argv[2] : "127.0.0.1";
const server = createServer(host, I32.parseInt(argv[1]), ALLOW_HALF_OPEN);

server.onListening = (srv: Server): void => { log("echo listening on " + srv.address); };
server.onError = (srv: Server, err: SocketError): void => {
  log("echo: " + err.toString() + " " + host + ":" + argv[1]);
  exit(1);
};
server.onConnection = (srv: Server, s: Socket): void => {
  // Backpressure as in Node: stop reading while the peer is slow to take the echo.
  s.onData = (s: Socket, data: Uint8Array): void => { if (!s.write(data)) s.pause(); };
  s.onDrain = (s: Socket): void => { s.resume(); };
  s.onEnd = (s: Socket): void => { s.end(); };
  s.onError = (s: Socket, err: SocketError): void => { log("echo: connection " + err.toString()); };
};
