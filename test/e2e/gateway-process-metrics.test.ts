// `weir gateway` exports its process's own metrics (CPU, memory, heap, event-loop delay, GC) on
// /metrics beside the request counts, so an operator can see a replica saturated or stalling.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { startStack, type Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 1 });
});
after(async () => {
  await stack?.stop();
});

/** A sample's value, by its whole name (labels included); fails when the series is missing. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line !== undefined, `${series} is exported`);
  return Number(line.slice(series.length + 1));
}

describe("weir gateway's process metrics", () => {
  it("exports CPU, resident memory, heap, event-loop delay and GC of the gateway process, named weir_gateway_", async () => {
    const replica = stack.replicas[0]!;
    // Some traffic first, so the gateway has done work (and collected garbage) worth showing.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${replica.url}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${stack.user.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: `hi ${i}` }] }),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const text = await (await fetch(`${replica.url}/metrics`)).text();

    assert.ok(sample(text, "weir_gateway_process_cpu_seconds_total") > 0);
    assert.ok(sample(text, "weir_gateway_nodejs_heap_size_used_bytes") > 0);
    assert.ok(sample(text, "weir_gateway_nodejs_eventloop_lag_p99_seconds") >= 0);
    // Collected garbage shows once a collection happened; the histogram is declared from the start.
    assert.match(text, /^# TYPE weir_gateway_nodejs_gc_duration_seconds histogram$/m);
    // It is the gateway's own process: its resident memory is what the kernel says of that pid.
    const pid = replica.process.child.pid;
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const vmRssBytes = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) * 1024;
    const exported = sample(text, "weir_gateway_process_resident_memory_bytes");
    assert.ok(exported > vmRssBytes / 2 && exported < vmRssBytes * 2, `exported RSS ${exported} vs /proc VmRSS ${vmRssBytes}`);
    // Each metric once.
    const helps = text.split("\n").filter((l) => l.startsWith("# HELP "));
    assert.equal(new Set(helps).size, helps.length, "no metric twice");
  });
});
