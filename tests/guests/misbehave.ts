// A guest that misbehaves on purpose, for the containment tests: `misbehave PORT MODE` listens
// on 127.0.0.1:PORT, echoes like the echo example, and on the first data of a connection does
// what MODE says: loop (forever), trap, memory (allocate until its maximum), badptr (write from
// a pointer outside its memory), badhandle (write to a handle it does not hold), wrongkind
// (write to its server's handle), recurse (overflow the stack), exit (exit 3).
export * from "../../guest/exports";
import { createServer, Server, Socket, log, exit } from "../../guest/wasinet";

@external("wasinet_guest", "socket_write") declare function raw_write(h: i32, ptr: usize, len: i32): i32;

const mode = process.argv[2];
const server = createServer("127.0.0.1", I32.parseInt(process.argv[1]));
server.onListening = (srv: Server): void => { log("listening " + srv.address); };
const hoard: ArrayBuffer[] = [];

server.onConnection = (srv: Server, s: Socket): void => {
  s.onData = (s: Socket, data: Uint8Array): void => {
    s.write(data);
    const mode = process.argv[2];
    if (mode == "loop") {
      let x: i64 = 0;
      while (x >= 0) x = (x + 1) & 0xffff;
    } else if (mode == "trap") {
      unreachable();
    } else if (mode == "memory") {
      for (let i = 0; i < 1 << 20; i++) hoard.push(new ArrayBuffer(1 << 16));
    } else if (mode == "badptr") {
      raw_write(s.handle, 0xfffffff0, 64);
    } else if (mode == "badhandle") {
      raw_write(s.handle + 1000, data.dataStart, data.length);
    } else if (mode == "wrongkind") {
      raw_write(server.handle, data.dataStart, data.length);
    } else if (mode == "recurse") {
      recurse(1);
    } else if (mode == "exit") {
      exit(3);
    }
  };
};
log("mode " + mode);

function recurse(n: i32): i32 { return n == 0 ? 0 : recurse(n + 1) + 1; }
