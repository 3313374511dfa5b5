// A revocation made through the admin API empties the gateway's handler pool at once, real
// processes (control plane on Postgres, `weir gateway`, the LLM emulator): deleting an API key
// drops its pooled handler at once — not at its 15-minute expiry — as /metrics shows
// (weir_gateway_memory_entries{map="handlers"}, weir_gateway_handler_pool_events_total{event="revoke"});
// suspending a user drops every handler of theirs. A stream in flight on a deleted key's
// handler is not cut: the official OpenAI SDK reads it to its last chunk, and the handler leaves
// right after it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { eventually, startStack, type Replica, type Stack } from "./stack.js";

// Far below the 15-minute expiry this replaces; a push takes ~0.1–0.3 s here, and the bound
// leaves room for a loaded machine (the refusal's own 1 s bound is revocation.test.ts's).
const DROP_BOUND_MS = 5_000;

let stack: Stack;
let gateway: Replica;

/** The gateway's /metrics sample `name{labels}` as a number. */
async function metric(series: string): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
const handlers = () => metric('weir_gateway_memory_entries{map="handlers"}');
const revoked = () => metric('weir_gateway_handler_pool_events_total{event="revoke"}');

async function must(method: string, path: string, body?: unknown): Promise<any> {
  const res = await stack.admin.request(method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const openai = (key: string) => new OpenAI({ apiKey: key, baseURL: `${gateway.url}/openai/v1`, maxRetries: 0 });
const ask = (key: string) => openai(key).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });

/** Polls the handler gauge until it is `want`; fails past the bound. Returns how long it took. */
async function handlersWithinBound(want: number, since: number): Promise<number> {
  for (;;) {
    const got = await handlers();
    const elapsed = Date.now() - since;
    if (got === want) return elapsed;
    assert.ok(elapsed < DROP_BOUND_MS, `the gateway still holds ${got} handlers (want ${want}) ${elapsed} ms after the change`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Asks with `key` until the gateway refuses it (403); fails past the bound. */
async function refusedWithinBound(key: string, since: number): Promise<void> {
  for (;;) {
    const outcome = await ask(key).then(
      () => "served",
      (err: unknown) => err,
    );
    if (outcome !== "served") {
      assert.ok(outcome instanceof OpenAI.APIError && outcome.status === 403, String(outcome));
      return;
    }
    assert.ok(Date.now() - since < DROP_BOUND_MS, `the gateway still serves the deleted key ${Date.now() - since} ms after the change`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

before(async () => {
  stack = await startStack({ replicas: 1 });
  gateway = stack.replicas[0]!;
  // Changes are pushed only once the watch stream is open.
  await eventually("the gateway's authorization watch", async () => ((await metric("weir_gateway_auth_watch_connected")) === 1 ? true : undefined));
});
after(() => stack?.stop());

describe("pushed revocations and the handler pool", () => {
  it("drops a deleted key's handler at once and keeps the user's other key's", async (t) => {
    const doomed = await must("POST", `/api/v2/users/${stack.user.id}/keys`, { name: "doomed" });
    await ask(stack.user.apiKey);
    await ask(doomed.key);
    const held = await handlers();
    const revokedBefore = await revoked();

    const since = Date.now();
    await must("DELETE", `/api/v2/users/${stack.user.id}/keys/${doomed.id}`);
    const elapsed = await handlersWithinBound(held - 1, since);
    assert.equal(await revoked(), revokedBefore + 1);
    // The other key still works, on the handler it kept (no new one built).
    await ask(stack.user.apiKey);
    assert.equal(await handlers(), held - 1);
    await assert.rejects(ask(doomed.key), (err: unknown) => err instanceof OpenAI.APIError && err.status === 403);
    t.diagnostic(`handler dropped ${elapsed} ms after the key was deleted`);
  });

  it("lets a stream on a deleted key's handler run to its end, then drops the handler", async (t) => {
    const streaming = await must("POST", `/api/v2/users/${stack.user.id}/keys`, { name: "streaming" });
    // 20 chunks 100 ms apart: the handler serves this request for about 2 s.
    const stream = await openai(streaming.key).chat.completions.create(
      { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] },
      { headers: { "x-emulator-events": "20", "x-emulator-event-delay-ms": "100" } },
    );
    const chunks = stream[Symbol.asyncIterator]();
    assert.equal((await chunks.next()).done, false);
    const held = await handlers();
    const revokedBefore = await revoked();

    await must("DELETE", `/api/v2/users/${stack.user.id}/keys/${streaming.id}`);
    // The deletion reaches the gateway (the key is refused) while the stream still runs: the
    // admin API answers before the push arrives, so a request just after it may still pass.
    await refusedWithinBound(streaming.key, Date.now());
    // ... and its handler is kept while it serves.
    assert.equal(await handlers(), held);
    assert.equal(await revoked(), revokedBefore);

    let count = 1;
    let finish: string | null | undefined;
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) {
      count += 1;
      finish = next.value.choices[0]?.finish_reason ?? finish;
    }
    // The emulator's role chunk, its 20 content chunks and the finish chunk: nothing was cut.
    assert.equal(count, 22);
    assert.equal(finish, "stop");
    const ended = Date.now();
    const elapsed = await handlersWithinBound(held - 1, ended);
    assert.equal(await revoked(), revokedBefore + 1);
    t.diagnostic(`handler dropped ${elapsed} ms after the stream ended`);
  });

  it("drops every handler of a suspended user at once", async (t) => {
    const bob = await must("POST", "/api/v2/users", { username: "bob", role: "member" });
    const keys = [await must("POST", `/api/v2/users/${bob.id}/keys`, { name: "one" }), await must("POST", `/api/v2/users/${bob.id}/keys`, { name: "two" })];
    for (const key of keys) await ask(key.key);
    await ask(stack.user.apiKey);
    const held = await handlers();
    const revokedBefore = await revoked();

    const since = Date.now();
    await must("PATCH", `/api/v2/users/${bob.id}`, { status: "suspended" });
    const elapsed = await handlersWithinBound(held - 2, since);
    assert.equal(await revoked(), revokedBefore + 2);
    t.diagnostic(`both handlers dropped ${elapsed} ms after the user was suspended`);
  });
});
