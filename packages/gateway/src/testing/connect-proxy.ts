// A forward proxy for tests of the gateway's egress proxy: it answers HTTP CONNECT as a
// corporate proxy does — checks Proxy-Authorization when given credentials, resolves the
// requested host through its own table (the gateway then need not resolve provider names
// itself, as in a network whose only way out is the proxy), opens the tunnel and copies bytes
// both ways. Anything but CONNECT gets 405. Every CONNECT is remembered. It can also be made
// to hang: take CONNECTs and never answer.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { connect, type Socket } from "node:net";

export interface ConnectProxyOptions {
  /** user:password the proxy asks for (Basic); undefined: none. */
  readonly credentials?: string;
  /** Host names the proxy resolves itself, to addresses (others are connected to as given). */
  readonly hosts?: Readonly<Record<string, string>>;
  /** A certificate and key (PEM): the proxy is an https:// one, its clients talk TLS to it. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** false: takes each CONNECT and never answers it, as a proxy stuck on its own way out does. */
  readonly answers?: boolean;
}

export interface ProxiedConnect {
  /** The CONNECT target, host:port. */
  readonly target: string;
  readonly proxyAuthorization: string | undefined;
  /** The status the proxy answered. */
  readonly status: number;
}

export class ConnectProxy {
  readonly connects: ProxiedConnect[] = [];
  /** The targets of CONNECTs left unanswered (answers: false). */
  readonly unanswered: string[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: ConnectProxyOptions = {}) {
    const refuseOthers = (_req: IncomingMessage, res: ServerResponse) => res.writeHead(405).end();
    this.server = options.tls === undefined ? createServer(refuseOthers) : createTlsServer(options.tls, refuseOthers);
    this.server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => this.tunnel(req, client, head));
  }

  /** Listens on a free loopback port; resolves with its URL (credentials not included). */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return this.url;
  }

  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    return `${this.options.tls === undefined ? "http" : "https"}://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private tunnel(req: IncomingMessage, client: Socket, head: Buffer): void {
    this.sockets.add(client);
    client.once("close", () => this.sockets.delete(client));
    client.on("error", () => client.destroy());
    const target = req.url ?? "";
    const proxyAuthorization = req.headers["proxy-authorization"];
    if (this.options.answers === false) {
      this.unanswered.push(target);
      return;
    }
    const refuse = (status: number, text: string, extra = ""): void => {
      this.connects.push({ target, proxyAuthorization, status });
      client.end(`HTTP/1.1 ${status} ${text}\r\n${extra}Content-Length: 0\r\n\r\n`);
    };
    const { credentials } = this.options;
    if (credentials !== undefined && proxyAuthorization !== `Basic ${Buffer.from(credentials).toString("base64")}`) {
      refuse(407, "Proxy Authentication Required", 'Proxy-Authenticate: Basic realm="test"\r\n');
      return;
    }
    const match = /^(.+):(\d+)$/.exec(target);
    if (match === null) {
      refuse(400, "Bad Request");
      return;
    }
    const host = this.options.hosts?.[match[1]!] ?? match[1]!;
    const upstream = connect(Number(match[2]), host);
    this.sockets.add(upstream);
    upstream.once("close", () => this.sockets.delete(upstream));
    upstream.once("error", () => {
      if (!client.destroyed && client.bytesWritten === 0) refuse(502, "Bad Gateway");
      else client.destroy();
    });
    upstream.once("connect", () => {
      this.connects.push({ target, proxyAuthorization, status: 200 });
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      client.once("close", () => upstream.destroy());
      upstream.once("close", () => client.destroy());
    });
  }
}
