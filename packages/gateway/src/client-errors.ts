// What a connection gets when its bytes are not a request (Node's 'clientError'): a malformed
// request, headers too large, a request that came too slowly. Node's own answer writes its 400
// onto the socket and closes it at once, even while the request before it on the same
// connection is still being answered: a valid request followed by garbage (pipelined, or
// trailing bytes after `Connection: close`) lost its answer, and its interception was recorded
// as the client's disconnection. Here the answer under way is finished first, then the
// connection closes; with none under way, the refusal is Node's.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

const REFUSALS: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large",
  ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout",
  HPE_CHUNK_EXTENSIONS_OVERFLOW: "413 Payload Too Large",
};

/**
 * Wraps the server's request listener to count the responses under way per connection, and
 * answers client errors on `server` as above. Returns the listener to give the server.
 */
export function finishBeforeClientErrors(
  server: Server,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const underWay = new WeakMap<Duplex, number>();
  const closeWhenAnswered = new WeakSet<Duplex>();
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Not an HTTP parse error (a TLS handshake that failed or timed out, a reset): nothing to
    // answer, as Node does.
    const code = err.code ?? "";
    if (!code.startsWith("HPE_") && code !== "ERR_HTTP_REQUEST_TIMEOUT") {
      socket.destroy();
      return;
    }
    if ((underWay.get(socket) ?? 0) > 0) {
      closeWhenAnswered.add(socket);
      // Nothing more is read (each further chunk would fail the parser again, without end);
      // the answer still goes out.
      (socket as Socket).pause();
      return;
    }
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 ${REFUSALS[code] ?? "400 Bad Request"}\r\nConnection: close\r\n\r\n`);
  });
  return (req, res) => {
    const socket = req.socket;
    underWay.set(socket, (underWay.get(socket) ?? 0) + 1);
    res.once("close", () => {
      const left = (underWay.get(socket) ?? 1) - 1;
      underWay.set(socket, left);
      if (left === 0 && closeWhenAnswered.has(socket)) {
        // Once what was written is out (TLS's close_notify included), not at once.
        if (typeof (socket as Socket).destroySoon === "function") (socket as Socket).destroySoon();
        else socket.destroy();
      }
    });
    handle(req, res);
  };
}
