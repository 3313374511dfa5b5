// Wraps connect-node's Http2SessionManager so every HTTP/2 session it opens has an "error"
// listener for its whole life. connect-node detaches its own listeners when a session leaves
// its state machine; a GOAWAY arriving after that (e.g. the control plane restarting) is
// re-emitted as an "error" with no listener — an uncaughtException that would kill the
// gateway. Here such late errors are only logged.

import type { ClientHttp2Stream, ClientSessionRequestOptions, Http2Session, OutgoingHttpHeaders } from "node:http2";
import { Http2SessionManager } from "@connectrpc/connect-node";
import type { ConnectTransportOptions } from "@connectrpc/connect-node";
import type { Logger } from "pino";

/** connect-node's session-manager interface (not exported under its own name). */
export type SessionManager = NonNullable<Extract<ConnectTransportOptions, { httpVersion: "2" }>["sessionManager"]>;

export class GuardedSessionManager implements SessionManager {
  private readonly inner: Http2SessionManager;
  private readonly guarded = new WeakSet<Http2Session>();

  constructor(
    baseUrl: string,
    private readonly logger: Logger,
    /** connect-node's keep-alive PING options; default none. */
    pingOptions?: ConstructorParameters<typeof Http2SessionManager>[1],
  ) {
    this.inner = new Http2SessionManager(baseUrl, pingOptions);
  }

  get authority(): string {
    return this.inner.authority;
  }

  async request(
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    options: Omit<ClientSessionRequestOptions, "signal">,
  ): Promise<ClientHttp2Stream> {
    const stream = await this.inner.request(method, path, headers, options);
    const session = stream.session;
    if (session !== undefined && !this.guarded.has(session)) {
      this.guarded.add(session);
      session.on("error", (err: unknown) => this.logger.debug({ err }, "control plane HTTP/2 session closed with an error"));
    }
    return stream;
  }

  notifyResponseByteRead(stream: ClientHttp2Stream): void {
    this.inner.notifyResponseByteRead(stream);
  }

  /** Closes the current session (and its streams). */
  abort(reason?: Error): void {
    this.inner.abort(reason);
  }
}
