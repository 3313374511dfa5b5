// One cleartext port for HTTP/2 with prior knowledge (gateways, h2c) and HTTP/1.1 (curl,
// probes, the admin API). Node's http2.createServer({allowHTTP1}) only falls back to HTTP/1.1
// through TLS ALPN, so in cleartext we look at the first bytes of each connection: the HTTP/2
// connection preface goes to the HTTP/2 server, anything else to the HTTP/1.1 server. The bytes
// read are pushed back (unshift) before the chosen server takes the socket; the HTTP/2 session
// reads such already-buffered data itself, the HTTP/1.1 parser once the socket flows again.
import type { Server as HttpServer } from "node:http";
import type { Http2Server } from "node:http2";
import { createServer, type Server, type Socket } from "node:net";

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** A connection that sends nothing recognisable within this time is closed. */
export const SNIFF_TIMEOUT_MS = 10_000;

function route(socket: Socket, h2: Http2Server, h1: HttpServer): void {
  let buffered: Buffer = Buffer.alloc(0);
  const cleanup = () => {
    socket.off("data", onData);
    socket.off("error", onError);
    socket.off("timeout", onTimeout);
    socket.setTimeout(0);
  };
  const onError = () => socket.destroy();
  const onTimeout = () => {
    cleanup();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const n = Math.min(buffered.length, PREFACE.length);
    const http2 = buffered.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (http2 && buffered.length < PREFACE.length) return; // a preface prefix: need more bytes
    cleanup();
    socket.pause();
    socket.unshift(buffered);
    if (http2) {
      h2.emit("connection", socket); // the session drains the buffered bytes on the next tick
    } else {
      h1.emit("connection", socket);
      socket.resume();
    }
  };
  socket.on("data", onData);
  socket.on("error", onError);
  socket.on("timeout", onTimeout);
  socket.setTimeout(SNIFF_TIMEOUT_MS);
}

/** A TCP server handing each connection to `h2` or `h1` by its first bytes. */
export function createCleartextListener(h2: Http2Server, h1: HttpServer): Server {
  return createServer((socket) => route(socket, h2, h1));
}
