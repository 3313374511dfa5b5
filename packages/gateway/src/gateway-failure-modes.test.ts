// Pins how the gateway refuses requests (reference TestServeHTTP_FailureModes): status, exact
// JSON body, no upstream call, and which control-plane calls happened — through real HTTP.
// Every case presents a credential the gateway has not seen before (or a scripted one), so its
// IsAuthorized count is not hidden by the authorization cache (gateway-auth-cache.test.ts).
// "The interception cannot be recorded" has its own cases: with RecordBatch (1.1) the start is
// queued and only a refusing queue fails the request; against 1.0 the synchronous
// RecordInterception does.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { gatewayErrorBody } from "./testing/index.js";
import type { FakeUser } from "./testing/index.js";
import { ANTHROPIC_KEY, GATEWAY_KEY, OPENAI_KEY, captureLogger, makeUser, metricValue, send, startHarness } from "./test-harness.js";
import { Gateway } from "./index.js";
import type { Harness } from "./test-harness.js";

let h: Harness;
const broken = makeUser("broken");
const oops: FakeUser = { ...makeUser("oops"), ownerId: "oops" };
const deleted = makeUser("deleted");
const internal = makeUser("internal");

before(async () => {
  h = await startHarness({
    gateway: {
      maxRequestBodyBytes: 64 * 1024,
      onHandlerCreate: (user) => {
        if (user.username === "broken") throw new Error("per-user set-up failed");
      },
    },
  });
  for (const u of [broken, oops, deleted, internal]) h.cp.addUser(u);
  h.cp.failAuthorization(deleted.key, { code: Code.PermissionDenied, reason: "deleted_user" });
  h.cp.failAuthorization(internal.key, { code: Code.Internal });
});
after(() => h.close());

const chatBody = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };

interface Case {
  name: string;
  method?: string;
  path?: string;
  /** `fresh` is a valid user this gateway has never seen. */
  headers: (fresh: FakeUser) => Record<string, string>;
  body?: () => unknown;
  setup?: () => void;
  status: number;
  /** The gateway's own fields; the body also carries them in the provider's envelope. */
  json: { message: string; detail?: string };
  /** The text of the provider envelope, where spelt out. */
  envelope?: string;
  /** IsAuthorized calls expected. */
  authorizeCalls: number;
  /** RecordInterception calls expected. */
  recordCalls: number;
}

const cases: Case[] = [
  { name: "no credential", headers: () => ({}), status: 400, json: { message: "no authentication key provided" }, authorizeCalls: 0, recordCalls: 0 },
  {
    name: "only a session token",
    headers: (fresh) => ({ "weir-session-token": fresh.key }),
    status: 400,
    json: { message: "no authentication key provided" },
    authorizeCalls: 0,
    recordCalls: 0,
  },
  {
    name: "unknown key",
    headers: () => ({ authorization: "Bearer abcdefghij-0123456789012345678901" }),
    status: 403,
    json: { message: "unauthorized" },
    authorizeCalls: 1,
    recordCalls: 0,
  },
  { name: "deleted user", headers: () => ({ "x-api-key": deleted.key }), status: 403, json: { message: "unauthorized" }, authorizeCalls: 1, recordCalls: 0 },
  { name: "owner id is not a UUID", headers: () => ({ authorization: `Bearer ${oops.key}` }), status: 403, json: { message: "unauthorized" }, authorizeCalls: 1, recordCalls: 0 },
  {
    name: "control plane unavailable",
    headers: (fresh) => ({ authorization: `Bearer ${fresh.key}` }),
    setup: () => h.cp.failNext("IsAuthorized", 1, Code.Unavailable),
    status: 503,
    json: { message: "could not connect to the control plane" },
    authorizeCalls: 1,
    recordCalls: 0,
  },
  {
    name: "control plane internal error",
    headers: () => ({ authorization: `Bearer ${internal.key}` }),
    status: 500,
    json: { message: "internal server error" },
    authorizeCalls: 1,
    recordCalls: 0,
  },
  {
    name: "handler set-up failure",
    headers: () => ({ authorization: `Bearer ${broken.key}` }),
    status: 500,
    json: { message: "failed to acquire request handler" },
    authorizeCalls: 1,
    recordCalls: 0,
  },
  {
    name: "BYOK while BYOK is disabled",
    headers: (fresh) => ({ "x-ai-governance-token": fresh.key, authorization: "Bearer sk-user-own-key" }),
    status: 403,
    json: { message: "Bring Your Own Key (BYOK) mode is not enabled.", detail: "Contact your administrator to enable it with --allow-byok." },
    // Two sentences, not "enabled.: Contact".
    envelope: "Bring Your Own Key (BYOK) mode is not enabled. Contact your administrator to enable it with --allow-byok.",
    authorizeCalls: 0,
    recordCalls: 0,
  },
  {
    name: "body is not JSON",
    headers: (fresh) => ({ authorization: `Bearer ${fresh.key}` }),
    body: () => "{not json",
    status: 400,
    json: { message: "invalid request body", detail: "the body is not valid JSON" },
    authorizeCalls: 1,
    recordCalls: 0,
  },
  {
    // The reference answers 501 too: the job would run and bill with no usage ever recorded.
    name: "a Responses request in the background without a stream",
    path: "/openai/v1/responses",
    headers: (fresh) => ({ authorization: `Bearer ${fresh.key}` }),
    body: () => ({ model: "gpt-4o", input: "hi", background: true }),
    status: 501,
    json: {
      message: "background requests are not supported",
      detail: 'The gateway records usage from the answer, and a background response is fetched later on a route it does not record; send it with "stream": true or without "background".',
    },
    authorizeCalls: 1,
    recordCalls: 0,
  },
  {
    name: "body is a JSON array",
    headers: (fresh) => ({ authorization: `Bearer ${fresh.key}` }),
    body: () => "[1,2]",
    status: 400,
    json: { message: "invalid request body", detail: "the body must be a JSON object" },
    authorizeCalls: 1,
    recordCalls: 0,
  },
  {
    name: "body nested deeper than 512 levels (its parse would stall the replica)",
    headers: (fresh) => ({ authorization: `Bearer ${fresh.key}` }),
    body: () => `{"model":"gpt-4o","messages":[],"x":${'{"a":'.repeat(600)}1${"}".repeat(600)}}`,
    status: 400,
    json: { message: "invalid request body", detail: "the body nests deeper than 512 levels" },
    authorizeCalls: 1,
    recordCalls: 0,
  },
  {
    name: "body too large",
    headers: (fresh) => ({ authorization: `Bearer ${fresh.key}` }),
    body: () => ({ ...chatBody, padding: "x".repeat(100 * 1024) }),
    status: 413,
    json: { message: "request body too large", detail: "The limit is 65536 bytes." },
    authorizeCalls: 1,
    recordCalls: 0,
  },
];

describe("failure modes", () => {
  for (const c of cases) {
    it(c.name, async () => {
      c.setup?.();
      const fresh = makeUser();
      h.cp.addUser(fresh);
      const upstreamBefore = h.emulator.requests.length;
      const authorizeBefore = h.cp.callsOf("IsAuthorized");
      const recordBefore = h.cp.callsOf("RecordInterception");
      const res = await send(`${h.gateway.url}${c.path ?? "/openai/v1/chat/completions"}`, {
        method: c.method ?? "POST",
        headers: c.headers(fresh),
        body: c.body?.() ?? chatBody,
      });
      assert.equal(res.status, c.status);
      assert.deepEqual(res.json, gatewayErrorBody("openai", c.status, c.json.message, c.json.detail));
      if (c.envelope !== undefined) assert.equal((res.json as { error: { message: string } }).error.message, c.envelope);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.equal(res.headers.get("x-should-retry"), c.status === 501 ? "false" : null, "the SDKs retry 5xx unless told not to");
      assert.equal(h.emulator.requests.length, upstreamBefore, "no upstream call");
      assert.equal(h.cp.callsOf("IsAuthorized") - authorizeBefore, c.authorizeCalls);
      assert.equal(h.cp.callsOf("RecordInterception") - recordBefore, c.recordCalls);
      assert.equal(h.cp.interceptions.length, 0, "no interception was recorded");
    });
  }

  it("logs refusals with their reason and never a key", async () => {
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const unauthorized = lines.filter((l) => l.msg === "unauthorized").map((l) => l.reason);
    assert.deepEqual(unauthorized, ["unknown_key", "deleted_user", "invalid_owner_id"]);
    for (const secret of [broken.key, oops.key, deleted.key, internal.key, "abcdefghij-0123456789012345678901"]) {
      assert.ok(h.logs.every((l) => !l.includes(secret)), "a user key was logged");
    }
  });

  it("logs a HEAD probe without credentials at info, other requests at warn", async () => {
    const before = h.logs.length;
    assert.equal((await send(`${h.gateway.url}/anthropic/v1/models`, { method: "HEAD" })).status, 400);
    assert.equal((await send(`${h.gateway.url}/anthropic/v1/models`, { method: "GET" })).status, 400);
    // The messages route takes only POST; a probe there is still answered as a probe.
    assert.equal((await send(`${h.gateway.url}/anthropic/v1/messages`, { method: "HEAD" })).status, 400);
    const levels = h.logs
      .slice(before)
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.msg === "no authentication key provided")
      .map((l) => l.level);
    assert.deepEqual(levels, [30, 40, 30]);
  });

  it("logs a request refused because the control plane is unreachable as one info line without a stack (the outage is the client's warning)", async () => {
    const fresh = makeUser();
    h.cp.addUser(fresh);
    h.cp.failNext("IsAuthorized", 1, Code.Unavailable);
    const before = h.logs.length;
    const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${fresh.key}` }, body: chatBody });
    assert.equal(res.status, 503);
    const refused = h.logs
      .slice(before)
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: unknown })
      .filter((l) => l.msg === "could not connect to the control plane");
    assert.deepEqual(refused.map((l) => [l.level, l.err]), [[30, undefined]]);
  });

  it("a HEAD with credentials on a route that takes only POST is still a 404", async () => {
    const res = await send(`${h.gateway.url}/anthropic/v1/messages`, { method: "HEAD", headers: { "x-api-key": h.user.key } });
    assert.equal(res.status, 404);
  });
});

describe("the interception cannot be recorded", () => {
  const request = (url: string, user: FakeUser) => send(`${url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${user.key}` }, body: chatBody });

  // Property (1.1): the start is queued, not sent: only a queue that refuses it fails the request.
  it("with RecordBatch: a full record queue fails the request with 500 before any upstream call", async () => {
    const { logger } = captureLogger();
    const small = new Gateway({
      controlPlaneUrl: h.cp.url,
      gatewayKey: GATEWAY_KEY,
      listen: { host: "127.0.0.1", port: 0 },
      openai: { baseUrl: h.emulator.openaiBaseUrl, apiKey: OPENAI_KEY },
      anthropic: { baseUrl: h.emulator.anthropicBaseUrl, apiKey: ANTHROPIC_KEY },
      recordQueueSize: 1,
      logger,
    });
    await small.start();
    const hold = h.cp.hold("RecordBatch");
    try {
      const user = makeUser();
      h.cp.addUser(user);
      // The first request's start fills the queue (its batch is held); its follow-ups are kept.
      assert.equal((await request(small.url, user)).status, 200);
      const upstreamBefore = h.emulator.requests.length;
      const recordBefore = h.cp.callsOf("RecordInterception");
      const res = await request(small.url, user);
      assert.equal(res.status, 500);
      assert.deepEqual(res.json, gatewayErrorBody("openai", 500, "failed to record interception"));
      assert.equal(h.emulator.requests.length, upstreamBefore, "no upstream call");
      assert.equal(h.cp.callsOf("RecordInterception"), recordBefore, "no synchronous RecordInterception");
      assert.equal(await metricValue(small.metrics.recordsDroppedTotal, { type: "interception", reason: "overflow" }), 1);
    } finally {
      hold.release();
      await small.shutdown();
    }
  });

  // A member's 32 MiB of tiny objects (32 KiB gzipped) took 9-12 s of JSON.parse on the event
  // loop, every stream of the replica with it; a few at once ran it out of memory.
  it("refuses a body of more objects and arrays than any real request holds, before parsing it", async () => {
    const big = await startHarness();
    try {
      const body = `{"model":"gpt-4o","messages":[],"x":[${Array(100_000).fill("{}").join(",")}]}`;
      const res = await send(`${big.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${big.user.key}` }, body });
      assert.equal(res.status, 400);
      assert.deepEqual(res.json, gatewayErrorBody("openai", 400, "invalid request body", "the body has more than 100000 objects and arrays"));
      assert.equal(big.emulator.requests.length, 0, "no upstream call");
    } finally {
      await big.close();
    }
  });

  // Property (1.0): the synchronous RecordInterception failing fails the request.
  it("against a 1.0 control plane: RecordInterception failing fails the request with 500", async () => {
    const old = await startHarness({ controlPlaneVersion: "1.0", gateway: { apiVersion: "1.0" } });
    try {
      old.cp.failNext("RecordInterception", 1, Code.Internal);
      const upstreamBefore = old.emulator.requests.length;
      const res = await request(old.gateway.url, old.user);
      assert.equal(res.status, 500);
      assert.deepEqual(res.json, gatewayErrorBody("openai", 500, "failed to record interception"));
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.equal(old.emulator.requests.length, upstreamBefore, "no upstream call");
      assert.equal(old.cp.callsOf("IsAuthorized"), 1);
      assert.equal(old.cp.callsOf("RecordInterception"), 1);
      assert.equal(old.cp.interceptions.length, 0, "no interception was recorded");
    } finally {
      await old.close();
    }
  });
});
