// Pins how the gateway refuses requests (reference TestServeHTTP_FailureModes): status, exact
// JSON body, no upstream call, and which control-plane calls happened — through real HTTP.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { FakeUser } from "./testing/index.js";
import { makeUser, send, startHarness } from "./test-harness.js";
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
  headers: () => Record<string, string>;
  body?: () => unknown;
  setup?: () => void;
  status: number;
  json: unknown;
  /** IsAuthorized calls expected. */
  authorizeCalls: number;
  /** RecordInterception calls expected. */
  recordCalls: number;
}

const cases: Case[] = [
  { name: "no credential", headers: () => ({}), status: 400, json: { message: "no authentication key provided" }, authorizeCalls: 0, recordCalls: 0 },
  {
    name: "only a session token",
    headers: () => ({ "weir-session-token": h.user.key }),
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
    headers: () => ({ authorization: `Bearer ${h.user.key}` }),
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
    name: "RecordInterception fails",
    headers: () => ({ authorization: `Bearer ${h.user.key}` }),
    setup: () => h.cp.failNext("RecordInterception", 1, Code.Internal),
    status: 500,
    json: { message: "failed to record interception" },
    authorizeCalls: 1,
    recordCalls: 1,
  },
  {
    name: "BYOK while BYOK is disabled",
    headers: () => ({ "x-ai-governance-token": h.user.key, authorization: "Bearer sk-user-own-key" }),
    status: 403,
    json: { message: "Bring Your Own Key (BYOK) mode is not enabled.", detail: "Contact your administrator to enable it with --allow-byok." },
    authorizeCalls: 0,
    recordCalls: 0,
  },
  {
    name: "body is not JSON",
    headers: () => ({ authorization: `Bearer ${h.user.key}` }),
    body: () => "{not json",
    status: 400,
    json: { message: "invalid request body", detail: "the body must be a JSON object" },
    authorizeCalls: 1,
    recordCalls: 0,
  },
  {
    name: "body is a JSON array",
    headers: () => ({ authorization: `Bearer ${h.user.key}` }),
    body: () => "[1,2]",
    status: 400,
    json: { message: "invalid request body", detail: "the body must be a JSON object" },
    authorizeCalls: 1,
    recordCalls: 0,
  },
  {
    name: "body too large",
    headers: () => ({ authorization: `Bearer ${h.user.key}` }),
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
      const upstreamBefore = h.emulator.requests.length;
      const authorizeBefore = h.cp.callsOf("IsAuthorized");
      const recordBefore = h.cp.callsOf("RecordInterception");
      const res = await send(`${h.gateway.url}${c.path ?? "/openai/v1/chat/completions"}`, {
        method: c.method ?? "POST",
        headers: c.headers(),
        body: c.body?.() ?? chatBody,
      });
      assert.equal(res.status, c.status);
      assert.deepEqual(res.json, c.json);
      assert.equal(res.headers.get("content-type"), "application/json");
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
    for (const secret of [h.user.key, broken.key, oops.key, deleted.key, internal.key, "abcdefghij-0123456789012345678901"]) {
      assert.ok(h.logs.every((l) => !l.includes(secret)), "a user key was logged");
    }
  });

  it("logs a HEAD probe without credentials at info, other requests at warn", async () => {
    const before = h.logs.length;
    assert.equal((await send(`${h.gateway.url}/anthropic/v1/models`, { method: "HEAD" })).status, 400);
    assert.equal((await send(`${h.gateway.url}/anthropic/v1/models`, { method: "GET" })).status, 400);
    const levels = h.logs
      .slice(before)
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.msg === "no authentication key provided")
      .map((l) => l.level);
    assert.deepEqual(levels, [30, 40]);
  });
});
