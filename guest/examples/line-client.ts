// line-client: connects to HOST:PORT (its first argument), sends one line (its second argument,
// default "hello"), prints the first line of the reply, and exits 0; exits 1 on an error (with
// the error's code) or if the server ends before a full line arrives.
export * from "../exports";
import { connect, Socket, SocketError, log, exit } from "../wasinet";

const argv = process.argv;
if (argv.length < 2 || argv[1].lastIndexOf(":") <= 0) {
  log("usage: line-client HOST:PORT [LINE]");
  exit(2);
}
const target = argv[1];
const colon = target.lastIndexOf(":");
let host = target.substring(0, colon);
if (host.startsWith("[")) host = host.substring(1, host.length - 1);
const line = argv.length > 2 ? argv[2] : "hello";
let reply = "";

const s = connect(host, I32.parseInt(target.substring(colon + 1)));
s.setTimeout(10000);
s.onConnect = (s: Socket): void => { s.writeString(line + "\n"); };
s.onData = (s: Socket, data: Uint8Array): void => {
  reply += String.UTF8.decode(data.buffer);
  const nl = reply.indexOf("\n");
  if (nl >= 0) {
    console.log(reply.substring(0, nl));
    exit(0);
  }
};
s.onEnd = (s: Socket): void => {
  log("line-client: the server ended before a full line");
  exit(1);
};
s.onTimeout = (s: Socket): void => {
  log("line-client: no reply within 10 s");
  exit(1);
};
s.onError = (s: Socket, err: SocketError): void => {
  log("line-client: " + err.toString() + " " + target);
  exit(1);
};
