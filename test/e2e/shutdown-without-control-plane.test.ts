// A replica told to stop while its control plane is gone (`weir gateway`, a real process): the
// stream in flight still completes for its client, the replica waits --record-flush-timeout for
// the control plane to take the last records, then drops them, says how many in one line, and
// exits 1 — an audit gap its supervisor must see, not a clean stop.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually, startStack, type Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 0 });
});
after(async () => {
  await stack?.stop();
});

describe("shutdown without a control plane", () => {
  it("finishes the stream, drops the undelivered records after the flush deadline, and exits 1", async () => {
    const replica = await stack.startReplica(["--record-flush-timeout", "1s", "--log-level", "info"]);
    const res = await fetch(`${replica.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${stack.user.apiKey}`,
        "content-type": "application/json",
        "x-emulator-event-delay-ms": "100",
        "x-emulator-events": "15",
      },
      body: JSON.stringify({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(first.done, false);

    await stack.controlPlane.shutdown();
    replica.process.child.kill("SIGTERM");
    // A second signal (npm forwards Ctrl-C once more; an impatient operator) does not cut the
    // drain short, and says so.
    await new Promise((r) => setTimeout(r, 200));
    replica.process.child.kill("SIGINT");
    let text = Buffer.from(first.value!).toString("utf8");
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString("utf8");
    }
    assert.match(text, /data: \[DONE\]/, "the client's stream completed");

    const exit = await replica.process.exited;
    const output = replica.process.output();
    assert.deepEqual(exit, { code: 1, signal: null }, output.slice(-3_000));
    assert.match(output, /"signal":"SIGINT".*"msg":"already shutting down: in-flight work gets until the shutdown deadlines \(kill -9 would lose it\)"/);
    assert.match(output, /\d+ records were not delivered to the control plane within --record-flush-timeout and were dropped/);
    await eventually("the summary log line", async () => (output.includes("records not delivered to the control plane by the flush deadline were dropped") ? true : undefined), 1_000);
  });
});
