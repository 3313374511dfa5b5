// The gateway's log on stdout as an operator reads it (`weir gateway --log-level info`, a real
// process): lines leave in blocks, yet a lone line shows up while the gateway keeps running, a
// burst arrives whole (every line one complete JSON object, none lost), and the lines written
// while it shuts down are out before it exits.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually, startStack, type Replica, type Stack } from "./stack.js";

let stack: Stack;
let replica: Replica;
before(async () => {
  stack = await startStack({ replicas: 0 });
  replica = await stack.startReplica(["--log-level", "info"]);
});
after(async () => {
  await stack?.stop();
});

async function chat(content: string): Promise<string> {
  const res = await fetch(`${replica.url}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.user.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }] }),
  });
  assert.equal(res.status, 200, await res.text());
  return res.headers.get("x-weir-interception-id") ?? "";
}

/** Every complete stdout line, parsed; throws on a line that is not one JSON object. */
function lines(output: string): Record<string, unknown>[] {
  return output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const endedIds = (output: string) => lines(output).filter((l) => l.msg === "interception ended").map((l) => l.interception_id);

describe("gateway log output", () => {
  it("writes an interception's line while the gateway keeps running", async () => {
    const id = await chat("one line");
    await eventually("the interception's log line", async () => (endedIds(replica.process.output()).includes(id) ? true : undefined), 5_000);
    assert.equal(replica.process.child.exitCode, null);
    const line = lines(replica.process.output()).find((l) => l.interception_id === id && l.msg === "interception ended")!;
    assert.equal(line.level, 30);
    assert.equal(line.status, 200);
    assert.equal(line.provider, "openai");
    // SECURITY: the central provider key appears only masked.
    assert.doesNotMatch(replica.process.output(), /sk-central-openai/);
  });

  it("keeps every line of a burst whole, and writes the shutdown's lines before exiting", async () => {
    const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => chat(`burst ${i} ${"x".repeat(200)}`)));
    replica.process.child.kill("SIGTERM");
    const exit = await replica.process.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, replica.process.output());
    const output = replica.process.output();
    const ended = endedIds(output);
    for (const id of ids) assert.ok(ended.includes(id), `no "interception ended" line for ${id}`);
    // lines() threw above if any line had been cut; the last lines are the shutdown's.
    assert.ok(lines(output).some((l) => l.msg === "shutting down" && l.signal === "SIGTERM"), output.slice(-2_000));
  });
});
