// A guest that writes in bursts, for the tests of socket_write's backpressure: `burst PORT SIZE...`
// listens on 127.0.0.1:PORT and, in the callback of each connection, writes one piece of each
// SIZE in turn (byte i of the whole stream is i & 0xff), then ends once the host took them all.
// Several writes in one callback make the host batch the small ones until the turn ends, so a
// large write can meet a batch still waiting.
export * from "../../guest/exports";
import { createServer, Server, Socket, log } from "../../guest/wasinet";

const server = createServer("127.0.0.1", I32.parseInt(process.argv[1]));
server.onListening = (srv: Server): void => { log("listening " + srv.address); };
server.onConnection = (srv: Server, s: Socket): void => {
  let at = 0;
  for (let i = 2; i < process.argv.length; i++) {
    const piece = new Uint8Array(I32.parseInt(process.argv[i]));
    for (let k = 0; k < piece.length; k++) piece[k] = <u8>(at + k);
    at += piece.length;
    s.write(piece);
  }
  s.end();
};
