// http-hello: an HTTP/1.1 server on 127.0.0.1 and the port given as its first argument that
// answers every request with "hello world\n" and keeps the connection open for the next one
// (keep-alive), unless the request says "Connection: close". Request bodies announced by
// Content-Length are read and ignored; pipelined requests are answered in order.
export * from "../exports";
import { createServer, Server, Socket, SocketError, log, exit } from "../wasinet";

const argv = process.argv;
if (argv.length < 2) {
  log("usage: http-hello PORT");
  exit(2);
}
const server = createServer("127.0.0.1", I32.parseInt(argv[1]));
// Per connection: the bytes of the request being read (headers are ASCII), and how many body
// bytes are still to skip.
const pending = new Map<i32, string>();
const skipping = new Map<i32, i32>();

const BODY = "hello world\n";

server.onListening = (srv: Server): void => { log("http-hello listening on " + srv.address); };
server.onError = (srv: Server, err: SocketError): void => {
  log("http-hello: " + err.toString());
  exit(1);
};
server.onConnection = (srv: Server, s: Socket): void => {
  pending.set(s.handle, "");
  skipping.set(s.handle, 0);
  s.setTimeout(30000);
  s.onTimeout = (s: Socket): void => { s.end(); };
  s.onData = (s: Socket, data: Uint8Array): void => {
    let text = pending.get(s.handle) + String.UTF8.decode(data.buffer);
    let skip = skipping.get(s.handle);
    while (true) {
      if (skip > 0) {
        const n = min(skip, text.length);
        text = text.substring(n);
        skip -= n;
        if (skip > 0) break;
      }
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) break;
      const head = text.substring(0, end).toLowerCase();
      text = text.substring(end + 4);
      skip = contentLength(head);
      const close = head.includes("\r\nconnection: close");
      s.writeString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + BODY.length.toString() +
        "\r\nConnection: " + (close ? "close" : "keep-alive") + "\r\n\r\n" + BODY);
      if (close) {
        s.end();
        text = "";
        break;
      }
    }
    pending.set(s.handle, text);
    skipping.set(s.handle, skip);
  };
  s.onEnd = (s: Socket): void => { s.end(); };
  s.onClose = (s: Socket, hadError: bool): void => {
    pending.delete(s.handle);
    skipping.delete(s.handle);
  };
};

function contentLength(head: string): i32 {
  const at = head.indexOf("\r\ncontent-length:");
  if (at < 0) return 0;
  const from = at + 17;
  let to = head.indexOf("\r\n", from);
  if (to < 0) to = head.length;
  return I32.parseInt(head.substring(from, to).trim());
}
