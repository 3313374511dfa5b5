// HTTP/1.1 connections from this process to the gateway's own request listener that never
// touch the network: each is a duplex pair in memory. The client end goes to an undici
// connector; the server end is emitted as a `connection` on an http.Server that never listens,
// so requests arrive as real IncomingMessage / ServerResponse objects and the gateway serves
// them exactly like network requests (streams flow event by event, backpressure and client
// aborts included). Server ends of *delegating* connections are remembered in a WeakSet: the
// only place a delegated API key id is honoured (delegation.ts explains why that is safe).

import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { duplexPair } from "node:stream";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { buildConnector } from "undici";
import { InProcessGatewayClosedError } from "./errors.js";

/** The gateway's request listener. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

const INTERNAL_ERROR_BODY = JSON.stringify({ message: "internal server error" });

// A duplex pair does not pass destruction across: when one end closes (aborted by the caller,
// reset by the handler, shut down), close the other so each side sees its peer go away.
function linkClose(a: Duplex, b: Duplex): void {
  a.once("close", () => {
    if (!b.destroyed) b.destroy();
  });
  b.once("close", () => {
    if (!a.destroyed) a.destroy();
  });
}

export class InMemoryConnections {
  private readonly server: Server;
  private readonly open = new Set<Duplex>();
  private readonly delegating = new WeakSet<object>();
  private closed = false;

  constructor(listener: RequestListener, logger: Logger) {
    // Never listens: it only parses the requests of the connections emitted below.
    this.server = createServer((req, res) => {
      try {
        listener(req, res);
      } catch (err) {
        // A throwing handler fails its own caller only (the reference turns a handler panic
        // into a 500): before the response started a 500, after it a reset connection.
        logger.error({ err, method: req.method }, "in-process request handler threw");
        if (res.headersSent) {
          res.destroy();
          return;
        }
        res.writeHead(500, { "content-type": "application/json", "content-length": String(Buffer.byteLength(INTERNAL_ERROR_BODY)) });
        res.end(INTERNAL_ERROR_BODY);
      }
    });
    this.server.on("clientError", (err: Error, socket: Duplex) => {
      logger.debug({ err }, "in-process connection error");
      socket.destroy();
    });
  }

  /** Whether `socket` is the server end of a delegating in-memory connection. */
  isDelegating(socket: unknown): boolean {
    return typeof socket === "object" && socket !== null && this.delegating.has(socket);
  }

  /** Open server ends (for tests and shutdown). */
  get size(): number {
    return this.open.size;
  }

  /**
   * An undici connector that opens one in-memory connection per call. `delegating`: requests
   * on these connections may carry a delegated API key id.
   */
  connector(delegating: boolean): buildConnector.connector {
    return (_options, callback) => {
      if (this.closed) {
        process.nextTick(callback, new InProcessGatewayClosedError(), null);
        return;
      }
      const [client, server] = duplexPair();
      linkClose(client, server);
      this.open.add(server);
      server.once("close", () => this.open.delete(server));
      if (delegating) this.delegating.add(server);
      this.server.emit("connection", server);
      // undici expects the connector to call back asynchronously, like a real dial.
      process.nextTick(callback, null, client as unknown as Socket);
    };
  }

  /** Refuses new connections and closes every open one. Idempotent. */
  close(): void {
    this.closed = true;
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }
}
