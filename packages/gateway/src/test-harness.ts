// Shared set-up for the gateway's HTTP-level tests: the real LLM emulator as upstream, the fake
// control plane over h2c, and a real Gateway on port 0 with a log capture. Not exported.

import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { createLlmEmulator } from "@weir/llm-emulator";
import type { LlmEmulator } from "@weir/llm-emulator";
import { pino } from "pino";
import type { Logger } from "pino";
import { speaksApi11 } from "./control-plane-client.js";
import { Gateway } from "./gateway.js";
import type { GatewayOptionsInput } from "./options.js";
import { FakeControlPlane } from "./testing/fake-control-plane.js";
import type { FakeRpcMethod, FakeUser } from "./testing/fake-control-plane.js";

/** 43 characters like a real gateway key; its first 11 are the public prefix. */
export const GATEWAY_KEY = "gwPrefix123SECRETsecretSECRETsecret01234567";
export const OPENAI_KEY = "sk-central-openai-0123456789abcdefXYZ9";
export const ANTHROPIC_KEY = "sk-ant-central-0123456789abcdefWXY8";

/** A user API key in the `<10-char id>-<22-char secret>` format. */
export function makeUser(name = "alice"): FakeUser {
  const id = randomUUID().replace(/-/g, "").slice(0, 10);
  const secret = randomUUID().replace(/-/g, "").slice(0, 22);
  return { key: `${id}-${secret}`, ownerId: randomUUID(), apiKeyId: id, username: name };
}

/** Collects pino's JSON lines. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString("utf8"));
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

export interface Harness {
  readonly emulator: LlmEmulator;
  readonly cp: FakeControlPlane;
  readonly gateway: Gateway;
  readonly user: FakeUser;
  readonly logs: string[];
  /** Shuts the gateway, the fake control plane and the emulator down. */
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly gateway?: Partial<GatewayOptionsInput>;
  /** Server API version of the fake control plane. */
  readonly controlPlaneVersion?: string;
  /** RPCs the fake control plane leaves out (answered Unimplemented). */
  readonly unimplemented?: readonly FakeRpcMethod[];
  /** Scripts the fake control plane before the gateway starts. */
  readonly beforeGatewayStart?: (cp: FakeControlPlane) => void;
  /** The host name the gateway is told to reach the emulator by (default its address, 127.0.0.1). */
  readonly upstreamHost?: string;
}

function upstreamUrl(url: string, host: string | undefined): string {
  if (host === undefined) return url;
  const named = new URL(url);
  named.hostname = host;
  return named.href.replace(/\/$/, "");
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const emulator = createLlmEmulator();
  await emulator.start();
  const cp = new FakeControlPlane({ gatewayKey: GATEWAY_KEY, apiVersion: options.controlPlaneVersion, unimplemented: options.unimplemented });
  await cp.start();
  const user = makeUser();
  cp.addUser(user);
  options.beforeGatewayStart?.(cp);
  const { logger, lines } = captureLogger();
  // Assigned in the try below; undefined in its catch when the constructor refused the options.
  let gateway!: Gateway;
  try {
    gateway = new Gateway({
      controlPlaneUrl: cp.url,
      gatewayKey: GATEWAY_KEY,
      listen: { host: "127.0.0.1", port: 0 },
      openai: { baseUrl: upstreamUrl(emulator.openaiBaseUrl, options.upstreamHost), apiKey: OPENAI_KEY },
      anthropic: { baseUrl: upstreamUrl(emulator.anthropicBaseUrl, options.upstreamHost), apiKey: ANTHROPIC_KEY },
      logger,
      shutdownTimeoutMs: 5_000,
      recordFlushTimeoutMs: 5_000,
      ...options.gateway,
    });
    await gateway.start();
    // Let the authorization watch settle (it is opened with the cache off too, for the handler
    // pool), so tests start from a gateway that hears changes (and caches, unless told not to),
    // and no start-up RPC or reset lands in the middle of a test's count.
    if (speaksApi11(gateway.options.apiVersion) && cp.serves("WatchAuthorizationChanges")) {
      await eventually(async () => (await metricValue(gateway.metrics.authWatchConnected)) === 1, 5_000, "authorization watch connected");
    }
  } catch (err) {
    // A gateway that refused its options leaves the fake control plane and the emulator running otherwise.
    await gateway?.shutdown();
    await cp.shutdown();
    await emulator.shutdown();
    throw err;
  }
  return {
    emulator,
    cp,
    gateway,
    user,
    logs: lines,
    close: async () => {
      await gateway.shutdown();
      await cp.shutdown();
      await emulator.shutdown();
    },
  };
}

/** Waits until the interception has ended on the fake control plane and the gateway's queue is empty. */
export async function waitForEnded(h: Harness, count: number, timeoutMs = 5_000): Promise<void> {
  await h.cp.waitFor(() => h.cp.ended.length >= count && h.gateway.pendingRecords === 0, timeoutMs, `${count} ended interceptions`);
}

/** A finished HTTP exchange. */
export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: unknown;
}

/** Sends a request to the gateway and reads the whole answer. */
export async function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<HttpResult> {
  const hasBody = init.body !== undefined;
  const res = await fetch(url, {
    method: init.method ?? (hasBody ? "POST" : "GET"),
    headers: { ...(hasBody ? { "content-type": "application/json" } : {}), ...init.headers },
    body: hasBody ? (typeof init.body === "string" ? init.body : JSON.stringify(init.body)) : undefined,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once `predicate` holds (polling); rejects after `timeoutMs`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
}

/** Sum of a prom-client metric's values matching `labels`. */
export async function metricValue(
  metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const data = await metric.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}
