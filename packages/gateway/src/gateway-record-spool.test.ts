// Pins the record spool through a real gateway and a fake control plane: records the control
// plane has not taken by the flush deadline are written to the spool instead of dropped (counted
// as spooled, not dropped; recordsDroppedAtShutdown stays 0); the next gateway started on the
// directory delivers them — same ids, so stored once — and removes the file; a replay cut short
// by shutdown supersedes its file with a new one; a file that is not whole is set aside and the
// others still go; a directory that cannot be used stops start-up in one line.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { RecordSpool } from "./index.js";
import { eventually, metricValue, startHarness } from "./test-harness.js";
import type { Harness, HarnessOptions } from "./test-harness.js";

const harnesses: Harness[] = [];
let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "weir-gateway-spool-"));
});
after(async () => {
  for (const h of harnesses) await h.close();
  await rm(root, { recursive: true, force: true });
});

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness(options);
  harnesses.push(h);
  return h;
}

const chat = { model: "gpt-4o", messages: [{ role: "user", content: "spool me" }] };

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** Sends one blocking chat completion; its usage as the client saw it. */
async function complete(h: Harness): Promise<Usage> {
  const res = await fetch(`${h.gateway.url}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${h.user.key}` },
    body: JSON.stringify(chat),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { usage: Usage };
  return body.usage;
}

/** Serves two requests while the control plane holds every batch, then shuts down: the records are spooled. */
async function spoolTwoInterceptions(dir: string): Promise<{ usages: Usage[]; logs: string[] }> {
  const h = await harness({ gateway: { recordSpoolDir: dir, recordFlushTimeoutMs: 200 } });
  h.cp.hold("RecordBatch");
  const usages = [await complete(h), await complete(h)];
  await h.gateway.shutdown();
  assert.equal(h.cp.ended.length, 0, "the control plane took nothing");
  assert.equal(await metricValue(h.gateway.metrics.recordsDroppedTotal, { reason: "shutdown" }), 0);
  assert.equal(await metricValue(h.gateway.metrics.recordsSpooledTotal), 8, "start, prompt, token usage and end of each");
  assert.equal(h.gateway.recordsDroppedAtShutdown, 0);
  return { usages, logs: h.logs };
}

function logged(h: { logs: string[] }, msg: string): any[] {
  return h.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === msg);
}

describe("record spool", () => {
  it("spools what the control plane did not take at shutdown, and the next gateway on the directory delivers it once", async () => {
    const dir = join(root, "deliver");
    const first = await spoolTwoInterceptions(dir);
    const files = await readdir(dir);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^records-\d{15}-\d+-[0-9a-f]{8}-0001\.records$/);
    const [line] = logged(first, "records not delivered to the control plane by the flush deadline were spooled; a gateway started with this --record-spool-dir delivers them");
    assert.equal(line?.spooled, 8);
    assert.deepEqual(line?.files, [join(dir, files[0]!)]);
    assert.equal(line?.level, 40);
    assert.deepEqual(logged(first, "records not delivered to the control plane by the flush deadline were dropped"), []);

    const next = await harness({ gateway: { recordSpoolDir: dir } });
    await next.cp.waitFor(() => next.cp.ended.length === 2, 5_000, "both spooled interceptions ended");
    await eventually(() => logged(next, "spooled records delivered; spool file removed").length > 0, 5_000, "the spool file removed");
    assert.equal(logged(next, "spooled records delivered; spool file removed")[0]?.records, 8);
    assert.deepEqual(await readdir(dir), []);
    assert.equal(next.cp.interceptions.length, 2);
    assert.deepEqual(
      next.cp.interceptions.map((i) => next.cp.ended.find((e) => e.id === i.id)?.id),
      next.cp.interceptions.map((i) => i.id),
      "each interception ended",
    );
    // Input excludes the cached tokens, counted apart (reference token table).
    assert.deepEqual(
      next.cp.tokenUsages.map((t) => [Number(t.inputTokens), Number(t.outputTokens), Number(t.cacheReadInputTokens)]),
      first.usages.map((u) => [u.prompt_tokens - u.prompt_tokens_details.cached_tokens, u.completion_tokens, u.prompt_tokens_details.cached_tokens]),
      "the token counts the clients saw",
    );
    assert.deepEqual(next.cp.tokenUsages.map((t) => Number(t.inputTokens)), [120, 120]);
    assert.deepEqual(next.cp.prompts.map((p) => p.prompt), ["spool me", "spool me"]);
    assert.equal(await metricValue(next.gateway.metrics.recordsReplayedTotal), 8);

    // A second replay of the same records (a crash before the file was removed) stores nothing new.
    await next.gateway.shutdown();
    assert.deepEqual(await readdir(dir), [], "nothing left to spool");
  });

  it("supersedes a file whose replay the shutdown deadline cut short, and the next gateway delivers it", async () => {
    const dir = join(root, "cut-short");
    await spoolTwoInterceptions(dir);
    const [old] = await readdir(dir);

    // rpcTimeoutMs: start-up's first RecordBatch (learning whether it is served) waits that long on the held method.
    const cut = await harness({ gateway: { recordSpoolDir: dir, recordFlushTimeoutMs: 200, rpcTimeoutMs: 1_000 }, beforeGatewayStart: (cp) => void cp.hold("RecordBatch") });
    await eventually(async () => (await metricValue(cut.gateway.metrics.recordsReplayedTotal)) === 8, 5_000, "the replay queued");
    await cut.gateway.shutdown();
    const [flushed] = logged(cut, "flushed follow-up records");
    assert.deepEqual([flushed?.pending, flushed?.delivered, flushed?.spooled, flushed?.undelivered], [8, 0, 8, 0]);
    const files = await readdir(dir);
    assert.equal(files.length, 1);
    assert.notEqual(files[0], old, "the old file is gone, a new one holds its records");
    assert.equal(await metricValue(cut.gateway.metrics.recordsSpooledTotal), 8);
    assert.equal(cut.gateway.recordsDroppedAtShutdown, 0);

    const next = await harness({ gateway: { recordSpoolDir: dir } });
    await next.cp.waitFor(() => next.cp.ended.length === 2, 5_000, "both interceptions ended");
    await eventually(async () => ((await readdir(dir)).length === 0), 5_000, "the spool file removed");
  });

  // The queue's bound refuses new interceptions once full: a spool replayed whole would fill it
  // and fail live requests with 500 until delivered. A quarter of the queue at a time leaves room.
  it("replays a slice at a time, so live requests keep their room in the queue", async () => {
    const dir = join(root, "slices");
    await spoolTwoInterceptions(dir);
    let held: { release: () => void } | undefined;
    const next = await harness({
      gateway: { recordSpoolDir: dir, recordQueueSize: 4, rpcTimeoutMs: 1_000 },
      beforeGatewayStart: (cp) => void (held = cp.hold("RecordBatch")),
    });
    await eventually(async () => (await metricValue(next.gateway.metrics.recordsReplayedTotal)) === 8, 5_000, "the file read");
    assert.ok(next.gateway.pendingRecords <= 1, `${next.gateway.pendingRecords} replayed records queued at once`);
    await complete(next);
    held!.release();
    await next.cp.waitFor(() => next.cp.ended.length === 3, 10_000, "the two replayed interceptions and the live one ended");
    await eventually(async () => (await readdir(dir)).length === 0, 5_000, "the spool file removed");
  });

  it("keeps the file when the control plane refuses a replayed batch as a whole", async () => {
    const dir = join(root, "refused");
    await spoolTwoInterceptions(dir);
    const [file] = await readdir(dir);
    const next = await harness({ gateway: { recordSpoolDir: dir }, beforeGatewayStart: (cp) => cp.failNext("RecordBatch", 1_000, Code.PermissionDenied) });
    await eventually(() => logged(next, "the control plane refused spooled records as a whole; the file is kept and replayed at the next start").length > 0, 5_000, "the refusal logged");
    assert.deepEqual(await readdir(dir), [file]);
  });

  it("sets aside a file that is not whole and still delivers the others", async () => {
    const dir = join(root, "corrupt");
    await spoolTwoInterceptions(dir);
    const bad = join(dir, "records-000000000000001-1-00000000.records");
    await writeFile(bad, "weir-records/1\n\x0a\x7f");
    const next = await harness({ gateway: { recordSpoolDir: dir } });
    await next.cp.waitFor(() => next.cp.ended.length === 2, 5_000, "the good file delivered");
    await eventually(async () => ((await readdir(dir)).length === 1), 5_000, "only the set-aside file left");
    assert.deepEqual(await readdir(dir), ["records-000000000000001-1-00000000.records.corrupt"]);
    const [line] = logged(next, "spool file set aside: it is not whole, and is not replayed");
    assert.equal(line?.file, `${bad}.corrupt`);
    assert.equal(line?.level, 50);
    assert.equal(line?.err?.message, `${bad} is not a whole record spool file: record 1 is cut short`);
  });

  it("checkpoints the queue while records wait on the control plane, and removes the checkpoint once they are delivered", async () => {
    const dir = join(root, "checkpoint");
    const h = await harness({ gateway: { recordSpoolDir: dir, recordCheckpointMs: 200 } });
    const held = h.cp.hold("RecordBatch");
    await complete(h);
    // Checkpoints follow each other every 200 ms: read whichever is on disk.
    let kinds: string[] = [];
    await eventually(async () => {
      for (const file of await new RecordSpool(dir).list()) {
        kinds = (await new RecordSpool(dir).read(file).catch(() => [])).map((r) => r.kind);
        if (kinds.length > 0) return true;
      }
      return false;
    }, 5_000, "a checkpoint");
    assert.deepEqual(kinds, ["interception", "prompt_usage", "token_usage", "interception_ended"], "what a crash now would lose, in order");
    // The line follows the file (written once the checkpoint is on disk): wait for it too.
    const waiting = "records are waiting on the control plane; checkpointing them to the record spool until they are delivered";
    await eventually(() => logged(h, waiting).length > 0, 5_000, "the checkpoint logged");
    const [line] = logged(h, waiting);
    assert.equal(line?.records, 4);
    assert.equal(line?.level, 40);
    assert.ok(line?.waited_ms >= 200);
    assert.ok((await metricValue(h.gateway.metrics.recordCheckpointsTotal)) >= 1);
    assert.equal(h.cp.ended.length, 0);

    held.release();
    await h.cp.waitFor(() => h.cp.ended.length === 1, 10_000, "the interception ended");
    await eventually(async () => (await readdir(dir)).length === 0, 5_000, "the checkpoint removed");
    await eventually(() => logged(h, "checkpointed records delivered; checkpoint removed").length > 0, 5_000, "the removal logged");
    const checkpoints = await metricValue(h.gateway.metrics.recordCheckpointsTotal);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await metricValue(h.gateway.metrics.recordCheckpointsTotal), checkpoints, "nothing waits: no further checkpoint");
    assert.deepEqual(await readdir(dir), []);
  });

  it("at shutdown, the spool file replaces the checkpoint", async () => {
    const dir = join(root, "checkpoint-shutdown");
    const h = await harness({ gateway: { recordSpoolDir: dir, recordCheckpointMs: 200, recordFlushTimeoutMs: 200 } });
    h.cp.hold("RecordBatch");
    await complete(h);
    const spool = new RecordSpool(dir);
    await eventually(async () => (await spool.list()).length > 0, 5_000, "a checkpoint");
    const checkpoints = await spool.list();
    await h.gateway.shutdown();
    const files = await readdir(dir);
    assert.equal(files.length, 1, "one file, no temporary one");
    assert.ok(!checkpoints.includes(join(dir, files[0]!)), "not a checkpoint");
    assert.deepEqual((await spool.read(join(dir, files[0]!))).map((r) => r.kind), ["interception", "prompt_usage", "token_usage", "interception_ended"]);
    assert.equal(h.gateway.recordsDroppedAtShutdown, 0);
  });

  it("drops (counts, exits as dropped) what it cannot write to the spool at shutdown", async () => {
    const dir = join(root, "vanishing");
    const h = await harness({ gateway: { recordSpoolDir: dir, recordFlushTimeoutMs: 200 } });
    h.cp.hold("RecordBatch");
    await complete(h);
    await rm(dir, { recursive: true });
    await h.gateway.shutdown();
    assert.equal(h.gateway.recordsDroppedAtShutdown, 4);
    assert.equal(await metricValue(h.gateway.metrics.recordsDroppedTotal, { reason: "shutdown" }), 4);
    assert.equal(await metricValue(h.gateway.metrics.recordsSpooledTotal), 0);
    const [line] = logged(h, "could not write the record spool");
    assert.equal(line?.written, 0);
    assert.equal(line?.level, 50);
    assert.equal(logged(h, "records not delivered to the control plane by the flush deadline were dropped")[0]?.undelivered, 4);
  });

  // The spool directory replaced by a file after a checkpoint: every later write fails, the
  // checkpoint's files (moved aside, still on disk) keep what they hold.
  it("counts as dropped only what the last checkpoint does not hold when the spool cannot be written at shutdown", async () => {
    const dir = join(root, "checkpoint-then-unwritable");
    const h = await harness({ gateway: { recordSpoolDir: dir, recordCheckpointMs: 1_000, recordFlushTimeoutMs: 200 } });
    h.cp.hold("RecordBatch");
    await complete(h);
    await eventually(async () => (await new RecordSpool(dir).list()).length > 0, 5_000, "a checkpoint");
    await complete(h);
    await rename(dir, `${dir}.aside`);
    await writeFile(dir, "");
    await h.gateway.shutdown();
    const aside = new RecordSpool(`${dir}.aside`);
    const ids = new Set<string>();
    for (const file of await aside.list()) for (const r of await aside.read(file)) ids.add(r.id);
    // Usually the first interception's 4; more if a later checkpoint came before the move.
    const held = ids.size;
    assert.ok(held >= 4 && held <= 8, `${held} records checkpointed`);
    assert.equal(h.gateway.recordsDroppedAtShutdown, 8 - held);
    assert.equal(await metricValue(h.gateway.metrics.recordsDroppedTotal, { reason: "shutdown" }), 8 - held);
    const [line] = logged(h, "could not write the record spool");
    assert.deepEqual([line?.written, line?.kept], [0, held]);
  });

  it("counts nothing as dropped when what it cannot write is still in the spool file being replayed", async () => {
    const dir = join(root, "replay-then-unwritable");
    await spoolTwoInterceptions(dir);
    const [file] = await readdir(dir);
    const cut = await harness({ gateway: { recordSpoolDir: dir, recordFlushTimeoutMs: 200, rpcTimeoutMs: 1_000 }, beforeGatewayStart: (cp) => void cp.hold("RecordBatch") });
    await eventually(async () => (await metricValue(cut.gateway.metrics.recordsReplayedTotal)) === 8, 5_000, "the replay queued");
    await rename(dir, `${dir}.aside`);
    await writeFile(dir, "");
    await cut.gateway.shutdown();
    assert.equal(cut.gateway.recordsDroppedAtShutdown, 0);
    assert.equal(await metricValue(cut.gateway.metrics.recordsDroppedTotal, { reason: "shutdown" }), 0);
    const [line] = logged(cut, "could not write the record spool");
    assert.deepEqual([line?.written, line?.kept], [0, 8]);
    assert.deepEqual(await readdir(`${dir}.aside`), [file], "the file in replay, with all 8");
  });

  it("refuses to start on a spool directory it cannot use", async () => {
    const file = join(root, "not-a-directory");
    await writeFile(file, "");
    await assert.rejects(harness({ gateway: { recordSpoolDir: join(file, "spool") } }), (err: Error) => {
      assert.equal(err.name, "FatalStartupError");
      assert.match(err.message, new RegExp(`^record spool directory ${join(file, "spool")} cannot be used: ENOTDIR: not a directory, stat '${join(file, "spool")}'$`));
      return true;
    });
  });

  // Node's recursive mkdir never returns there (procfs answers ENOENT under an existing parent):
  // the gateway spun a core and could not be stopped.
  it("refuses at once a spool directory whose entry the kernel will not make (under /proc)", { skip: !existsSync("/proc/self") }, async () => {
    await assert.rejects(harness({ gateway: { recordSpoolDir: "/proc/weir-spool/records" } }), (err: Error) => {
      assert.equal(err.name, "FatalStartupError");
      assert.equal(err.message, "record spool directory /proc/weir-spool/records cannot be used: ENOENT: no such file or directory, mkdir '/proc/weir-spool'");
      return true;
    });
  });
});
