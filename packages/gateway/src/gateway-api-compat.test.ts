// Pins the 1.1 gateway's fallbacks (DESIGN §2 compatibility) against control planes without the
// 1.1 RPCs: one RPC per record, the synchronous RecordInterception before any upstream call,
// IsAuthorized on every request — and the same recorded rows as with RecordBatch. Also: a 1.1
// gateway is refused by a 1.0 control plane at start-up, naming both versions.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { API_VERSION } from "@weir/proto";
import { FatalStartupError } from "./index.js";
import { send, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness, HarnessOptions } from "./test-harness.js";
import { API_1_1_RPCS } from "./testing/index.js";

const withTool = {
  model: "gpt-4o",
  messages: [{ role: "user", content: "Weather in Paris?" }],
  tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
};
const request = (h: Harness) => send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body: withTool });

/** Two requests; every row they should have written, and the RPCs they cost. */
async function twoRequests(h: Harness): Promise<void> {
  for (let i = 1; i <= 2; i++) {
    const res = await request(h);
    assert.equal(res.status, 200);
    await waitForEnded(h, i);
    const rows = h.cp.recordsOf(res.headers.get("x-weir-interception-id") ?? "");
    assert.ok(rows.interception !== undefined);
    assert.deepEqual(
      [rows.prompts.length, rows.tokenUsages.length, rows.toolUsages.length, rows.ended.length],
      [1, 1, 1, 1],
    );
  }
  assert.equal(h.cp.callsOf("IsAuthorized"), 2, "asked on every request: nothing is cached");
  assert.equal(h.cp.callsOf("RecordInterception"), 2);
  for (const method of ["RecordPromptUsage", "RecordTokenUsage", "RecordToolUsage", "RecordInterceptionEnded"] as const) assert.equal(h.cp.callsOf(method), 2, method);
}

const cases: { name: string; options: HarnessOptions; newRpcCalls: number }[] = [
  // Both sides at 1.0: the 1.1 RPCs are never even tried.
  { name: "a gateway speaking 1.0 and a 1.0 control plane", options: { controlPlaneVersion: "1.0", gateway: { apiVersion: "1.0" } }, newRpcCalls: 0 },
  // A control plane that accepts 1.1 but lacks the RPCs: each answers Unimplemented once.
  { name: "a 1.1 gateway and a control plane without the 1.1 RPCs", options: { unimplemented: API_1_1_RPCS }, newRpcCalls: 1 },
];

describe("fallback to the 1.0 RPCs", () => {
  for (const c of cases) {
    it(`${c.name}: per-record RPCs, synchronous start, no cache — same rows`, async () => {
      const h = await startHarness(c.options);
      try {
        await twoRequests(h);
        assert.equal(h.cp.callsOf("RecordBatch"), c.newRpcCalls);
        assert.equal(h.cp.callsOf("WatchAuthorizationChanges"), c.newRpcCalls);
      } finally {
        await h.close();
      }
    });
  }

  // Property: the start is synchronous again: the upstream is not called before it is stored.
  it("records the interception start before calling the upstream", async () => {
    const h = await startHarness({ unimplemented: API_1_1_RPCS });
    try {
      const hold = h.cp.hold("RecordInterception");
      const pending = request(h);
      await h.cp.waitFor(() => h.cp.callsOf("RecordInterception") === 1, 5_000, "RecordInterception in flight");
      assert.equal(h.emulator.requests.length, 0);
      hold.release();
      assert.equal((await pending).status, 200);
      assert.equal(h.emulator.requests.length, 1);
    } finally {
      await h.close();
    }
  });
});

describe("start-up against an older control plane", () => {
  // Property: the version rule — a 1.1 gateway is refused by a 1.0 control plane, which names both.
  it(`a ${API_VERSION} gateway is refused by a 1.0 control plane, naming both versions`, async () => {
    await assert.rejects(startHarness({ controlPlaneVersion: "1.0" }), (err: unknown) => {
      assert.ok(err instanceof FatalStartupError);
      assert.equal(err.kind, "api_version");
      assert.match(err.message, new RegExp(`client "${API_VERSION.replace(".", "\\.")}", server 1\\.0`));
      return true;
    });
  });
});

describe("lazy fallback", () => {
  // Property: when start-up detection fails transiently, the first batch that answers
  // Unimplemented switches over; the records it carried are sent again one by one, once each.
  it("delivers records queued before the switch exactly once", async () => {
    const h = await startHarness({ unimplemented: ["RecordBatch"], gateway: { recordBatch: { lingerMs: 200 } }, beforeGatewayStart: (cp) => cp.failNext("RecordBatch", 1, Code.Unavailable) });
    try {
      const res = await request(h);
      assert.equal(res.status, 200);
      await waitForEnded(h, 1);
      const id = res.headers.get("x-weir-interception-id") ?? "";
      assert.deepEqual(
        h.cp.applied.filter((a) => a.interceptionId === id).map((a) => a.kind),
        ["interception", "promptUsage", "tokenUsage", "toolUsage", "interceptionEnded"],
      );
      // Detection (Unavailable), then the batch (Unimplemented), then one RPC per record.
      assert.equal(h.cp.callsOf("RecordBatch"), 2);
      assert.equal(h.cp.callsOf("RecordInterception"), 1);
      // The next request's start is synchronous.
      assert.equal((await request(h)).status, 200);
      assert.equal(h.cp.callsOf("RecordInterception"), 2);
      assert.equal(h.cp.callsOf("RecordBatch"), 2);
    } finally {
      await h.close();
    }
  });
});
