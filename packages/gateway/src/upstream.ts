// HTTP to the LLM providers: one undici Agent (a keep-alive Pool per origin) shared by every
// request of a gateway.

import { Agent } from "undici";
import type { Dispatcher } from "undici";
import type { UpstreamTarget } from "./routes.js";

export interface UpstreamOptions {
  /** Upper bound for waiting on response headers and between body chunks. */
  readonly timeoutMs: number;
  /** Idle keep-alive connections are closed after this long. Default 30 s. */
  readonly keepAliveTimeoutMs?: number;
}

/** One upstream request. */
export interface UpstreamRequest {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | Buffer | undefined;
  readonly signal: AbortSignal;
}

export type UpstreamResponse = Dispatcher.ResponseData;

export class Upstream {
  private readonly agent: Agent;
  private closing: Promise<void> | undefined;

  constructor(options: UpstreamOptions) {
    this.agent = new Agent({
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      keepAliveMaxTimeout: 10 * 60_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  request(target: UpstreamTarget, request: UpstreamRequest): Promise<UpstreamResponse> {
    return this.agent.request({
      origin: target.origin,
      path: target.path,
      method: request.method as Dispatcher.HttpMethod,
      headers: request.headers,
      body: request.body ?? null,
      signal: request.signal,
    });
  }

  /** Closes every connection: gracefully, then forcibly after `graceMs`. */
  close(graceMs = 1_000): Promise<void> {
    this.closing ??= this.closeOnce(graceMs);
    return this.closing;
  }

  private async closeOnce(graceMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.agent.destroy().then(resolve, resolve);
      }, graceMs);
    });
    try {
      await Promise.race([this.agent.close(), forced]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}

/** Creates the upstream client. */
export function createUpstream(options: UpstreamOptions): Upstream {
  return new Upstream(options);
}
