// A small client for the control plane's admin HTTP API, authenticated with an owner's API key.
// The light entry point: the gateway's own classifier, without loading the gateway.
import { connectionHint, tlsMisconfiguration } from "@weir/gateway/tls-diagnosis";
import { CliError } from "./cli-error.js";

export interface AdminClientOptions {
  /** Control-plane base URL, e.g. http://127.0.0.1:7080, or with a path behind a proxy (https://proxy/weir). */
  readonly url: string;
  /** An owner's API key. SECURITY: sent as a bearer token, never printed. */
  readonly token: string;
}

/** The admin API answered with an error status; the message is the CLI's line for it. */
export class AdminApiError extends CliError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class AdminClient {
  constructor(private readonly options: AdminClientOptions) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(adminUrl(this.options.url, path), {
        method,
        headers: {
          authorization: `Bearer ${this.options.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CliError(connectionFailure(this.options.url, err));
    }
    const text = await res.text();
    // The path may hold a full key pasted where an id belongs: main.ts masks every error line.
    if (!res.ok) throw new AdminApiError(res.status, `${method} ${path}: ${res.status} ${describeError(text)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }
  delete(path: string): Promise<void> {
    return this.request<void>("DELETE", path);
  }
}

/**
 * `path` (absolute, e.g. "/api/v2/users") under the base URL, keeping the base's own path: a
 * control plane behind a proxy at https://proxy/weir answers at https://proxy/weir/api/v2/users.
 */
export function adminUrl(base: string, path: string): URL {
  const url = new URL(base);
  return new URL(url.pathname.replace(/\/+$/, "") + path, url);
}

/**
 * Why fetch failed, in one line. A TLS setting that cannot work is named with its fix, in the
 * gateway's words: the control plane was reached, so "cannot reach" would send the operator
 * looking at the network.
 */
function connectionFailure(url: string, err: unknown): string {
  const tls = tlsMisconfiguration(err, url);
  if (tls !== undefined) return tls;
  const inner = (err as { cause?: { code?: string; message?: string } }).cause;
  const cause = inner?.code ?? inner?.message ?? (err as Error).message;
  const hint = connectionHint(err, url);
  if (hint !== undefined) return `the connection to the control plane at ${url} failed (${cause}): ${hint}`;
  return `cannot reach the control plane at ${url}: ${cause}`;
}

/** An admin API error, {message, detail?, validations?}, all of it on one line. */
export function errorLine(body: { message?: string; detail?: string | undefined; validations?: readonly { field: string; detail: string }[] | undefined }): string {
  const parts = [body.message ?? ""];
  if (body.detail) parts.push(body.detail);
  for (const v of body.validations ?? []) parts.push(`${v.field}: ${v.detail}`);
  return parts.filter(Boolean).join(" — ");
}

function describeError(text: string): string {
  try {
    return errorLine(JSON.parse(text) as Parameters<typeof errorLine>[0]);
  } catch {
    return text.trim().slice(0, 200);
  }
}
