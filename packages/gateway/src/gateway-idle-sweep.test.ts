// Pins the idle sweep through a real gateway (fake control plane over h2c, the LLM emulator as
// upstream) on a fake clock: after requests from several API keys go idle past their expiry, the
// sweep that falls due empties the handler pool, the authorization cache, the changes remembered
// for running calls and the circuit breakers, and /metrics shows it.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_POOL_OPTIONS } from "./handler-pool.js";
import { IDLE_SWEEP_INTERVAL_MS } from "./idle-sweeper.js";
import { eventually, makeUser, send, startHarness } from "./test-harness.js";
import type { Harness } from "./test-harness.js";
import { FakeClock } from "./testing/index.js";
import type { FakeUser } from "./testing/index.js";

const KEYS = 5;
const chat = (h: Harness, user: FakeUser, headers: Record<string, string> = {}, model = "gpt-4o") =>
  send(`${h.gateway.url}/openai/v1/chat/completions`, {
    headers: { authorization: `Bearer ${user.key}`, ...headers },
    body: { model, messages: [{ role: "user", content: "hi" }] },
  });

/** weir_gateway_memory_entries by map, as /metrics shows it. */
async function memoryEntries(h: Harness): Promise<Record<string, number>> {
  const text = (await send(`${h.gateway.url}/metrics`)).text;
  const sizes: Record<string, number> = {};
  for (const m of text.matchAll(/^weir_gateway_memory_entries\{map="([a-z_]+)"\} (\d+)$/gm)) sizes[m[1]!] = Number(m[2]);
  return sizes;
}

describe("idle sweep", () => {
  const clock = new FakeClock();
  let h: Harness;
  before(async () => {
    // Records go at once (no linger on the fake clock); a closed circuit's failures never reset by themselves.
    h = await startHarness({
      // The upstream timeout is on the fake clock too: long enough that no advance below fires it.
      gateway: { clock, upstreamTimeoutMs: 24 * 3_600_000, recordBatch: { lingerMs: 0 }, circuitBreaker: { enabled: true, failureThreshold: 5, intervalMs: 0, timeoutMs: 30_000, maxRequests: 1 } },
    });
  });
  after(() => h.close());

  it("empties the maps once requests from several keys went idle past their expiry", async () => {
    const users = Array.from({ length: KEYS }, () => {
      const user = makeUser();
      h.cp.addUser(user);
      return user;
    });
    for (const user of users) assert.equal((await chat(h, user)).status, 200);
    // One failure leaves a circuit with something to remember (a model no later request succeeds on).
    assert.equal((await chat(h, users[0]!, { "x-emulator-status": "503" }, "gpt-4o-mini")).status, 503);
    // A change pushed while an IsAuthorized call runs is remembered after the call ends.
    const latecomer = makeUser();
    h.cp.addUser(latecomer);
    const asked = h.cp.callsOf("IsAuthorized");
    const hold = h.cp.hold("IsAuthorized");
    const late = chat(h, latecomer);
    await h.cp.waitFor(() => h.cp.callsOf("IsAuthorized") > asked, 5_000, "IsAuthorized in flight");
    h.cp.invalidateApiKey("someone-else");
    await eventually(async () => (await memoryEntries(h)).auth_changes === 1, 5_000, "the change to arrive");
    hold.release();
    assert.equal((await late).status, 200);
    await h.cp.waitFor(() => h.cp.ended.length >= KEYS + 2 && h.gateway.pendingRecords === 0, 5_000, "every interception ended");

    assert.deepEqual(await memoryEntries(h), { handlers: KEYS + 1, auth_cache: KEYS + 1, auth_changes: 1, circuits: 1 });
    // Nothing has expired at the first sweep.
    await clock.advance(IDLE_SWEEP_INTERVAL_MS);
    assert.deepEqual(await memoryEntries(h), { handlers: KEYS + 1, auth_cache: KEYS + 1, auth_changes: 0, circuits: 1 });
    // Past the handlers' 15 minutes (and every shorter expiry), the next sweep empties them all.
    await clock.advance(DEFAULT_POOL_OPTIONS.ttlMs);
    assert.deepEqual(await memoryEntries(h), { handlers: 0, auth_cache: 0, auth_changes: 0, circuits: 0 });
  });

  it("keeps an expired handler while it serves a request, and drops it at the sweep after", async () => {
    const user = makeUser();
    h.cp.addUser(user);
    // A stream of 40 events 100 ms apart (real time): its handler is in use for about 4 s.
    const response = await fetch(`${h.gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.key}`, "content-type": "application/json", "x-emulator-events": "40", "x-emulator-event-delay-ms": "100" },
      body: JSON.stringify({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    assert.equal((await reader.read()).done, false);
    await clock.advance(DEFAULT_POOL_OPTIONS.ttlMs + IDLE_SWEEP_INTERVAL_MS);
    assert.equal((await memoryEntries(h)).handlers, 1);
    while (!(await reader.read()).done);
    await h.cp.waitFor(() => h.gateway.pendingRecords === 0 && h.cp.ended.length >= KEYS + 3, 5_000, "the stream's interception ended");
    await clock.advance(IDLE_SWEEP_INTERVAL_MS);
    assert.equal((await memoryEntries(h)).handlers, 0);
  });
});
