// Wraps connect-node's Http2SessionManager so every HTTP/2 session it opens has an "error"
// listener for its whole life. connect-node detaches its own listeners when a session leaves
// its state machine; a GOAWAY arriving after that (e.g. the control plane restarting) is
// re-emitted as an "error" with no listener — an uncaughtException that would kill the
// gateway. Here such late errors are only logged.
//
// It also drops sessions connect-node (2.1.2) would keep forever: a session that received a
// GOAWAY while a stream was open (the authorization watch always is) and then closed while still
// current is pushed onto the manager's list of sessions shutting down after its close listeners
// were removed, so nothing ever takes it off — one destroyed session per control-plane restart,
// per replica, walked on every response chunk.

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
    this.dropDestroyedSessions();
    const stream = await this.inner.request(method, path, headers, options);
    this.dropDestroyedSessions();
    const session = stream.session;
    if (session !== undefined && !this.guarded.has(session)) {
      this.guarded.add(session);
      session.on("error", (err: unknown) => this.logger.debug({ err }, "control plane HTTP/2 session closed with an error"));
    }
    return stream;
  }

  /** Sessions shutting down whose connection is gone (see the file comment); a no-op when none. */
  private dropDestroyedSessions(): void {
    const list = (this.inner as unknown as { shuttingDown?: unknown }).shuttingDown;
    if (!Array.isArray(list)) return;
    for (let i = list.length - 1; i >= 0; i--) {
      if ((list[i] as { conn?: Http2Session } | undefined)?.conn?.destroyed === true) list.splice(i, 1);
    }
  }

  /** Sessions connect-node keeps while they shut down (for tests). */
  get sessionsShuttingDown(): number {
    const list = (this.inner as unknown as { shuttingDown?: unknown }).shuttingDown;
    return Array.isArray(list) ? list.length : 0;
  }

  notifyResponseByteRead(stream: ClientHttp2Stream): void {
    this.inner.notifyResponseByteRead(stream);
  }

  /** Closes the current session (and its streams). */
  abort(reason?: Error): void {
    this.inner.abort(reason);
  }
}
