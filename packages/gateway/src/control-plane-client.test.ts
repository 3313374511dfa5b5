// Pins start-up against the control plane (DESIGN §3): fatal answers reject start() with a
// one-line reason, transient failures are retried while /readyz reports 503, readiness
// recovers when the control plane comes back, and IsAuthorized errors map to domain errors.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { constants as http2Constants, createServer as createHttp2Server, type ServerHttp2Session, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { Authorizer } from "@weir/proto";
import { failedInTransport } from "./control-plane-client.js";
import { CONTROL_PLANE_BUSY_MESSAGE } from "@weir/proto";
import { pino } from "pino";
import {
  ControlPlaneClient,
  ControlPlaneError,
  ControlPlaneUnavailableError,
  FatalStartupError,
  Gateway,
  UnauthorizedError,
} from "./index.js";
import { FakeControlPlane, gatewayErrorBody } from "./testing/index.js";
import { GATEWAY_KEY, captureLogger, eventually, freePort, makeUser, metricValue, send } from "./test-harness.js";
import { createLlmEmulator } from "@weir/llm-emulator";

const silent = pino({ level: "silent" });
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function fake(options: { apiVersion?: string; port?: number } = {}): Promise<FakeControlPlane> {
  const cp = new FakeControlPlane({ gatewayKey: GATEWAY_KEY, ...options });
  await cp.start();
  cleanups.push(() => cp.shutdown());
  return cp;
}

function gateway(controlPlaneUrl: string, extra: Partial<ConstructorParameters<typeof Gateway>[0]> = {}): Gateway {
  const gw = new Gateway({
    controlPlaneUrl,
    gatewayKey: GATEWAY_KEY,
    listen: { host: "127.0.0.1", port: 0 },
    openai: { baseUrl: "http://127.0.0.1:9/openai/v1", apiKey: "sk-x" },
    anthropic: { baseUrl: "http://127.0.0.1:9/anthropic", apiKey: "sk-y" },
    logger: silent,
    ...extra,
  });
  cleanups.push(() => gw.shutdown());
  return gw;
}

describe("start-up: fatal answers", () => {
  it("rejects an invalid gateway key with a one-line reason that never shows the key", async () => {
    const cp = await fake();
    const { logger, lines } = captureLogger();
    const wrongKey = "WRONGprefixSECRETsecretSECRETsecret98765432";
    const gw = gateway(cp.url, { gatewayKey: wrongKey, logger });
    await assert.rejects(gw.start(), (err: unknown) => {
      assert.ok(err instanceof FatalStartupError);
      assert.equal(err.kind, "gateway_key");
      assert.equal(err.message, "control plane rejected gateway key WRONGprefix...: AI Gateway key invalid.");
      assert.ok(!err.message.includes("\n"));
      return true;
    });
    assert.equal(gw.state, "stopped");
    assert.equal(cp.callsOf("GetMCPServerConfigs"), 1);
    assert.ok(lines.every((line) => !line.includes(wrongKey)), "the key must never be logged");
    assert.ok(lines.some((line) => line.includes('"gateway_key_prefix":"WRONGprefix"')));
  });

  const versionCases = [
    { name: "newer minor", client: "1.9", server: "1.0", want: 'control plane rejected API version 1.9: incompatible API version: client "1.9", server 1.0: client minor 9 is newer than the server\'s 0' },
    { name: "newer major", client: "2.0", server: "1.0", want: 'control plane rejected API version 2.0: incompatible API version: client "2.0", server 1.0: server is at 1.0, behind the requested major 2' },
    { name: "older major", client: "1.0", server: "2.0", want: 'control plane rejected API version 1.0: incompatible API version: client "1.0", server 2.0: major 1 is no longer supported' },
  ];
  for (const c of versionCases) {
    it(`rejects an incompatible API version (${c.name}) naming both versions`, async () => {
      const cp = await fake({ apiVersion: c.server });
      const gw = gateway(cp.url, { apiVersion: c.client });
      await assert.rejects(gw.start(), (err: unknown) => {
        assert.ok(err instanceof FatalStartupError);
        assert.equal(err.kind, "api_version");
        assert.equal(err.message, c.want);
        return true;
      });
    });
  }

  it("accepts an older minor against a newer server", async () => {
    const cp = await fake({ apiVersion: "1.3" });
    const gw = gateway(cp.url, { apiVersion: "1.0" });
    await gw.start();
    assert.equal(gw.ready, true);
  });
});

describe("start-up: transient failures", () => {
  it("serves not-ready while the control plane answers 503, then becomes ready", async () => {
    const cp = await fake();
    cp.failHttp(3, 503);
    const gw = gateway(cp.url);
    await gw.start();
    assert.equal(gw.ready, false);
    assert.equal((await send(`${gw.url}/readyz`)).status, 503);
    assert.equal((await send(`${gw.url}/healthz`)).status, 200);
    await eventually(async () => (await send(`${gw.url}/readyz`)).status === 200, 5_000, "ready");
    assert.equal(cp.callsOf("GetMCPServerConfigs"), 4);
  });

  // One stack per error of an outage: not one per retry, and not only the first error's.
  it("logs each new error of an outage with its stack, a repeated one on one line", async () => {
    const cp = await fake();
    // Far more 503s than it waits for: the switch to 502 below is not raced by its retries.
    cp.failHttp(100, 503);
    const { logger, lines } = captureLogger();
    const gw = gateway(cp.url, { logger });
    await gw.start();
    const retries = () =>
      lines.map((l) => JSON.parse(l) as { msg: string; err?: string | { message: string; stack: string } }).filter((l) => l.msg === "control plane unreachable at start-up; serving not-ready while retrying" || l.msg === "control plane still unreachable");
    await eventually(() => retries().length >= 3, 5_000, "the first failure and two retries logged");
    cp.failHttp(2, 502);
    await eventually(async () => (await send(`${gw.url}/readyz`)).status === 200, 10_000, "ready");
    const seen = retries().map((l) => (typeof l.err === "string" ? { message: l.err, stack: false } : { message: l.err?.message, stack: typeof l.err?.stack === "string" }));
    const messages = [...new Set(seen.map((s) => s.message))];
    assert.equal(messages.length, 2, JSON.stringify(seen));
    seen.forEach((s, i) => assert.equal(s.stack, s.message !== seen[i - 1]?.message, JSON.stringify(seen)));
  });

  // Together with the teardown order of this file (fake first, gateway second) this also pins
  // that a GOAWAY reaching a session connect-node has let go of does not crash the process
  // (see guarded-session-manager.ts): without the guard this file fails with an uncaught error.
  it("retries until a late control plane starts, answering 503 to LLM requests meanwhile", async () => {
    const emulator = createLlmEmulator();
    await emulator.start();
    cleanups.push(() => emulator.shutdown());
    const port = await freePort();
    const gw = gateway(`http://127.0.0.1:${port}`, {
      openai: { baseUrl: emulator.openaiBaseUrl, apiKey: "sk-central" },
    });
    await gw.start();
    assert.equal((await send(`${gw.url}/readyz`)).status, 503);
    const user = makeUser();
    const before = await send(`${gw.url}/openai/v1/chat/completions`, {
      headers: { authorization: `Bearer ${user.key}` },
      body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
    });
    assert.equal(before.status, 503);
    assert.deepEqual(before.json, gatewayErrorBody("openai", 503, "could not connect to the control plane"));
    assert.equal(before.headers.get("content-type"), "application/json");

    const cp = await fake({ port });
    cp.addUser(user);
    await eventually(async () => (await send(`${gw.url}/readyz`)).status === 200, 15_000, "ready");
    const afterStart = await send(`${gw.url}/openai/v1/chat/completions`, {
      headers: { authorization: `Bearer ${user.key}` },
      body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
    });
    assert.equal(afterStart.status, 200);
    assert.equal(emulator.requests.length, 1);
  });

  it("turns not-ready when the control plane goes away, and recovers when it returns", async () => {
    const first = new FakeControlPlane({ gatewayKey: GATEWAY_KEY });
    await first.start();
    const port = first.port;
    const user = makeUser();
    first.addUser(user);
    const gw = gateway(first.url);
    await gw.start();
    assert.equal((await send(`${gw.url}/readyz`)).status, 200);
    await first.shutdown();

    const during = await send(`${gw.url}/openai/v1/models`, { headers: { authorization: `Bearer ${user.key}` } });
    assert.equal(during.status, 503);
    assert.equal((await send(`${gw.url}/readyz`)).status, 503);

    const second = await fake({ port });
    second.addUser(user);
    await eventually(async () => (await send(`${gw.url}/readyz`)).status === 200, 15_000, "ready again");
  });

  it("an idle replica turns not-ready when the control plane goes away, before any request fails", async () => {
    const first = new FakeControlPlane({ gatewayKey: GATEWAY_KEY });
    await first.start();
    const port = first.port;
    const gw = gateway(first.url);
    await gw.start();
    await eventually(async () => (await metricValue(gw.metrics.authWatchConnected)) === 1, 5_000, "authorization watch connected");
    assert.equal((await send(`${gw.url}/readyz`)).status, 200);
    await first.shutdown();
    // No LLM request is sent: the lost watch alone makes the replica probe, and the probe fails.
    await eventually(async () => (await send(`${gw.url}/readyz`)).status === 503, 5_000, "not ready");
    assert.equal(await metricValue(gw.metrics.controlPlaneReady), 0);
    await fake({ port });
    await eventually(async () => (await send(`${gw.url}/readyz`)).status === 200, 15_000, "ready again");
  });

  it("stays ready while only the authorization watch is refused (the control plane answers)", async () => {
    const cp = await fake();
    const gw = gateway(cp.url);
    await gw.start();
    await eventually(async () => (await metricValue(gw.metrics.authWatchConnected)) === 1, 5_000, "authorization watch connected");
    const probes = cp.callsOf("GetMCPServerConfigs");
    cp.endWatches(Code.Unavailable);
    await eventually(() => cp.callsOf("GetMCPServerConfigs") > probes, 5_000, "a probe after the watch ended");
    await eventually(async () => (await metricValue(gw.metrics.authWatchConnected)) === 1, 5_000, "watch back");
    assert.equal((await send(`${gw.url}/readyz`)).status, 200);
    assert.equal(await metricValue(gw.metrics.controlPlaneReady), 1);
  });

  it("reports a fatal answer that arrives after start() resolved", async () => {
    const cp = await fake();
    cp.failHttp(1, 503);
    const fatal: FatalStartupError[] = [];
    const gw = gateway(cp.url, { onFatalError: (err) => fatal.push(err) });
    await gw.start();
    cp.setGatewayKey("another-key");
    await eventually(() => fatal.length === 1, 5_000, "fatal error callback");
    assert.equal(fatal[0]?.message, `control plane rejected gateway key ${GATEWAY_KEY.slice(0, 11)}...: AI Gateway key invalid.`);
    assert.equal(gw.ready, false);
  });
});

describe("ControlPlaneClient.authorize", () => {
  const cases: { name: string; script?: { code: Code; reason?: string }; unknown?: boolean; want: (err: unknown) => boolean }[] = [
    { name: "unknown key", unknown: true, want: (e) => e instanceof UnauthorizedError && e.reason === "unknown_key" },
    { name: "expired", script: { code: Code.Unauthenticated, reason: "expired" }, want: (e) => e instanceof UnauthorizedError && e.reason === "expired" },
    { name: "deleted user", script: { code: Code.PermissionDenied, reason: "deleted_user" }, want: (e) => e instanceof UnauthorizedError && e.reason === "deleted_user" },
    { name: "permission denied without detail", script: { code: Code.PermissionDenied }, want: (e) => e instanceof UnauthorizedError && e.reason === "PermissionDenied" },
    { name: "internal without detail", script: { code: Code.Internal }, want: (e) => e instanceof ControlPlaneError },
    { name: "unavailable", script: { code: Code.Unavailable }, want: (e) => e instanceof ControlPlaneUnavailableError },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const cp = await fake();
      const user = makeUser();
      if (!c.unknown) cp.addUser(user);
      if (c.script !== undefined) cp.failAuthorization(user.key, c.script);
      const client = new ControlPlaneClient({ baseUrl: cp.url, gatewayKey: GATEWAY_KEY, apiVersion: "1.0", rpcTimeoutMs: 2_000, logger: silent });
      cleanups.push(async () => client.close());
      await client.start();
      await assert.rejects(async () => client.authorize({ key: user.key }), (err: unknown) => c.want(err));
    });
  }

  // Property: a busy control plane (no free database connection) fails the request with 503 but
  // leaves the replica ready; an unreachable one makes it not ready.
  it("stays ready when the control plane is busy (ResourceExhausted), not when it is unavailable", async () => {
    for (const [code, readyAfter] of [
      [Code.ResourceExhausted, true],
      [Code.Unavailable, false],
    ] as const) {
      const cp = await fake();
      const user = makeUser();
      cp.addUser(user);
      cp.failAuthorization(user.key, { code });
      const client = new ControlPlaneClient({ baseUrl: cp.url, gatewayKey: GATEWAY_KEY, apiVersion: "1.0", rpcTimeoutMs: 2_000, logger: silent });
      cleanups.push(async () => client.close());
      await client.start();
      assert.equal(client.ready, true);
      await assert.rejects(async () => client.authorize({ key: user.key }), (err: unknown) => err instanceof ControlPlaneUnavailableError);
      assert.equal(client.ready, readyAfter, Code[code]);
    }
  });

  it("returns the user on success", async () => {
    const cp = await fake();
    const user = makeUser();
    cp.addUser(user);
    const client = new ControlPlaneClient({ baseUrl: cp.url, gatewayKey: GATEWAY_KEY, apiVersion: "1.0", rpcTimeoutMs: 2_000, logger: silent });
    cleanups.push(async () => client.close());
    assert.deepEqual(await client.authorize({ key: user.key }), { ownerId: user.ownerId, apiKeyId: user.apiKeyId, username: user.username });
    assert.equal(cp.callsOf("IsAuthorized"), 1);
  });
});

describe("ControlPlaneClient.classifyRecordError", () => {
  const client = new ControlPlaneClient({ baseUrl: "http://127.0.0.1:1", gatewayKey: GATEWAY_KEY, apiVersion: "1.1", rpcTimeoutMs: 2_000, logger: silent });
  after(() => client.close());

  it("drops a record too large for the control plane, but retries one a busy control plane could not take", () => {
    const tooLarge = new ConnectError("message size 5242880 is larger than configured readMaxBytes 4194304", Code.ResourceExhausted);
    assert.equal(client.classifyRecordError(tooLarge, 1), "permanent");
    assert.equal(client.classifyRecordError(tooLarge, 2), "transient");
    assert.equal(client.classifyRecordError(new ConnectError(CONTROL_PLANE_BUSY_MESSAGE, Code.ResourceExhausted), 1), "transient");
    assert.equal(client.classifyRecordError(new ConnectError("down", Code.Unavailable), 1), "transient");
    assert.equal(client.classifyRecordError(new ConnectError("no such interception", Code.InvalidArgument), 1), "permanent");
  });
});

describe("failedInTransport", () => {
  // A control plane that fails the connection under a call, as an overloaded or crashing one does.
  async function failingServer(fail: (stream: ServerHttp2Stream) => void): Promise<string> {
    const server = createHttp2Server();
    const sessions: ServerHttp2Session[] = [];
    server.on("session", (session) => sessions.push(session));
    server.on("stream", (stream) => {
      stream.on("error", () => {}); // a stream reset with an error code reports it here too
      fail(stream);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function callError(baseUrl: string): Promise<ConnectError> {
    const client = createClient(Authorizer, createConnectTransport({ httpVersion: "2", baseUrl }));
    try {
      await client.isAuthorized({ key: "k" });
    } catch (err) {
      return ConnectError.from(err);
    }
    throw new Error("the call succeeded");
  }

  it("is true for a session closed with an error and a stream reset under the call", async () => {
    const sessionError = await callError(await failingServer((stream) => stream.session?.goaway(http2Constants.NGHTTP2_INTERNAL_ERROR)));
    assert.equal(sessionError.code, Code.Internal, sessionError.message);
    assert.equal(failedInTransport(sessionError), true, sessionError.message);
    const reset = await callError(await failingServer((stream) => stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR)));
    assert.equal(reset.code, Code.Internal, reset.message);
    assert.equal(failedInTransport(reset), true, reset.message);
    // connect-node maps some reset codes to PermissionDenied (a refusal of the user, 403) when it
    // reads the code itself; here Node reports the reset first. Either way it is transport.
    const insecure = await callError(await failingServer((stream) => stream.close(http2Constants.NGHTTP2_INADEQUATE_SECURITY)));
    assert.ok([Code.Internal, Code.PermissionDenied].includes(insecure.code), insecure.message);
    assert.equal(failedInTransport(insecure), true, insecure.message);
    assert.equal(failedInTransport(new ConnectError("http/2 stream closed with error code INADEQUATE_SECURITY (0xc)", Code.PermissionDenied)), true);
  });

  it("is false for an internal error the control plane answered", () => {
    assert.equal(failedInTransport(new ConnectError("database exploded", Code.Internal)), false);
  });
});
