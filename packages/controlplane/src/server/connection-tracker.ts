// Tracks every connection of the control plane's HTTP server (HTTP/2 sessions and HTTP/1.1
// sockets on the same port) so shutdown can drain them: GOAWAY to HTTP/2 sessions, close idle
// HTTP/1.1 keep-alive sockets and let busy ones close after their response, then destroy
// whatever is left at the deadline. Without this a connect-node client's idle HTTP/2 session
// (kept for 15 minutes) would keep the server, and the process, alive (DESIGN §8 "Known traps").
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2SecureServer, Http2Server, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from "node:http2";
import type { Server, Socket } from "node:net";

export type HttpRequest = IncomingMessage | Http2ServerRequest;
export type HttpResponse = ServerResponse | Http2ServerResponse;

export class ConnectionTracker {
  /** Every accepted TCP connection. */
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<ServerHttp2Session>();
  /** HTTP/1.1 sockets (as requests see them) -> requests in flight on them. */
  private readonly http1 = new Map<Socket, number>();
  private draining = false;

  /** Tracks the TCP connections accepted by `server` (the listening one). */
  trackSockets(server: Server): void {
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
  }

  /** Tracks the HTTP/2 sessions of `server`. */
  trackSessions(server: Http2Server | Http2SecureServer): void {
    server.on("session", (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
      if (this.draining) session.close();
    });
  }

  /** Call for every request: HTTP/1.1 requests are counted per socket. */
  trackRequest(req: HttpRequest, res: HttpResponse): void {
    if (req.httpVersionMajor !== 1) return; // HTTP/2 streams are drained with their session
    const socket = req.socket;
    if (!this.http1.has(socket)) socket.once("close", () => this.http1.delete(socket));
    this.http1.set(socket, (this.http1.get(socket) ?? 0) + 1);
    // While draining, Node closes the socket itself after a response with this header.
    if (this.draining && !res.headersSent) res.setHeader("connection", "close");
    res.once("close", () => {
      const inFlight = (this.http1.get(socket) ?? 1) - 1;
      if (this.http1.has(socket)) this.http1.set(socket, inFlight);
      if (this.draining && inFlight === 0) socket.end();
    });
  }

  /** Refuses new work on existing connections and closes them as they become idle. */
  drain(): void {
    this.draining = true;
    for (const session of this.sessions) session.close();
    for (const [socket, inFlight] of this.http1) if (inFlight === 0) socket.destroy();
  }

  /** Closes everything now (the drain deadline passed). */
  destroyAll(): void {
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
  }

  get openConnections(): number {
    return this.sockets.size;
  }
}
