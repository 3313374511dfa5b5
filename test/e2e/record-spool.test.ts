// A rolling restart during a control-plane outage loses no interception (`weir gateway
// --record-spool-dir`, real processes, PostgreSQL): a replica told to stop while its control
// plane is gone finishes the client's stream (the Anthropic SDK's), writes the records the
// control plane has not taken by --record-flush-timeout to the spool and exits 0; the replica
// started after it on the same directory, once a control plane answers again, delivers them —
// one interception, ended, with its prompt and the token counts the client saw — and empties
// the directory. The same file delivered a second time stores nothing twice. A replica killed
// with -9 while its control plane is down leaves a checkpoint that the next replica delivers.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { pino } from "pino";
import { createControlPlane, type ControlPlane } from "@weir/controlplane";
import { RecordSpool } from "@weir/gateway";
import { eventually, logLines, runWeir, startStack, type Stack } from "./stack.js";

let stack: Stack;
let spoolDir: string;
let restarted: ControlPlane | undefined;
before(async () => {
  stack = await startStack({ replicas: 0 });
  spoolDir = join(await mkdtemp(join(tmpdir(), "weir-e2e-spool-")), "spool");
});
after(async () => {
  await restarted?.shutdown();
  await stack?.stop();
  if (spoolDir !== undefined) await rm(join(spoolDir, ".."), { recursive: true, force: true });
});

describe("record spool across a control-plane outage", () => {
  it("spools at shutdown, exits 0, and the next replica on the directory delivers the records once the control plane is back", async () => {
    const args = ["--record-flush-timeout", "1s", "--record-spool-dir", spoolDir, "--log-level", "info"];
    const first = await stack.startReplica(args);
    assert.equal((await stat(spoolDir)).mode & 0o777, 0o700, "the directory is made private");
    const stream = await slowStreamStarted(first.url, stack.user.apiKey, 15);

    await stack.controlPlane.shutdown();
    first.process.child.kill("SIGTERM");
    const message = await stream.finalMessage();
    assert.equal(message.stop_reason, "end_turn", "the client's stream completed");

    const exit = await first.process.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, first.process.output().slice(-3_000));
    const [spooled] = logLines(first.process, "records not delivered to the control plane by the flush deadline were spooled; a gateway started with this --record-spool-dir delivers them");
    assert.ok(spooled !== undefined, first.process.output().slice(-3_000));
    assert.ok(spooled.spooled >= 3, "at least the prompt, the token usage and the end");
    assert.deepEqual(logLines(first.process, "records not delivered to the control plane by the flush deadline were dropped"), []);
    const files = await readdir(spoolDir);
    assert.equal(files.length, 1);
    assert.deepEqual(spooled.files, [join(spoolDir, files[0]!)]);
    assert.equal((await stat(spooled.files[0])).mode & 0o777, 0o600);

    const copy = join(spoolDir, "..", "spooled-copy");
    await copyFile(spooled.files[0], copy);

    // The control plane comes back (on the same database), and a new replica starts on the directory.
    restarted = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: stack.database.url, logger: pino({ level: "silent" }) });
    await restarted.start();
    const second = await stack.startReplica(["--record-spool-dir", spoolDir, "--log-level", "info"], { WEIR_CONTROL_PLANE_URL: restarted.url });
    await eventually("the spool delivered", async () => (logLines(second.process, "spooled records delivered; spool file removed").length > 0 ? true : undefined), 15_000);
    assert.deepEqual(await readdir(spoolDir), []);

    await assertRecordedOnce(stack, message);
    second.process.child.kill("SIGTERM");
    assert.deepEqual(await second.process.exited, { code: 0, signal: null });

    // Delivered again (a crash before the file was removed, two replicas on one directory): the
    // control plane stores each record once, by the id it was made with.
    await copyFile(copy, spooled.files[0]);
    const third = await stack.startReplica(["--record-spool-dir", spoolDir, "--log-level", "info"], { WEIR_CONTROL_PLANE_URL: restarted.url });
    await eventually("the copy delivered", async () => (logLines(third.process, "spooled records delivered; spool file removed").length > 0 ? true : undefined), 15_000);
    await assertRecordedOnce(stack, message);
    third.process.child.kill("SIGTERM");
    assert.deepEqual(await third.process.exited, { code: 0, signal: null });
  });

  it("a replica killed with -9 during the outage loses no more than its last checkpoint interval", async () => {
    const own = await startStack({ replicas: 0 });
    let back: ControlPlane | undefined;
    try {
      const dir = join(spoolDir, "..", "checkpoint");
      const replica = await own.startReplica(["--record-spool-dir", dir, "--record-checkpoint-interval", "300ms", "--log-level", "info"]);
      const stream = await slowStreamStarted(replica.url, own.user.apiKey, 10);
      await own.controlPlane.shutdown();
      const message = await stream.finalMessage();

      // Once a checkpoint holds the interception's end, nothing of it is only in memory.
      const spool = new RecordSpool(dir);
      await eventually("a checkpoint holding the interception's end", async () => {
        for (const file of await spool.list()) {
          const records = await spool.read(file).catch(() => []);
          if (records.some((r) => r.kind === "interception_ended")) return true;
        }
        return undefined;
      }, 15_000);
      replica.process.child.kill("SIGKILL");
      assert.deepEqual(await replica.process.exited, { code: null, signal: "SIGKILL" });
      assert.ok(logLines(replica.process, "records are waiting on the control plane; checkpointing them to the record spool until they are delivered").length === 1);

      back = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: own.database.url, logger: pino({ level: "silent" }) });
      await back.start();
      const next = await own.startReplica(["--record-spool-dir", dir, "--log-level", "info"], { WEIR_CONTROL_PLANE_URL: back.url });
      await eventually("the checkpoint delivered", async () => (logLines(next.process, "spooled records delivered; spool file removed").length > 0 ? true : undefined), 15_000);
      await assertRecordedOnce(own, message);
      // A kill mid-write may have left two checkpoints (each delivered in turn) or a temporary file (never read).
      await eventually("every checkpoint delivered", async () => ((await spool.list()).length === 0 ? true : undefined), 15_000);
    } finally {
      await back?.shutdown();
      await own.stop();
    }
  });

  it("refuses to start on a spool directory it cannot use, in one line", async () => {
    const notDir = join(spoolDir, "..", "a-file");
    await writeFile(notDir, "");
    const proc = runWeir(["gateway", "--listen", "127.0.0.1:0", "--record-spool-dir", join(notDir, "spool")], {
      WEIR_CONTROL_PLANE_URL: "http://127.0.0.1:1",
      WEIR_GATEWAY_KEY: stack.gatewayKey.key,
    });
    assert.deepEqual(await proc.exited, { code: 1, signal: null });
    assert.match(proc.output(), new RegExp(`weir: record spool directory ${join(notDir, "spool").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} cannot be used: ENOTDIR: not a directory`));
  });
});

/** One interception of the user's, ended, with its prompt and the token counts the client saw: each row once. */
async function assertRecordedOnce(stack: Stack, message: Anthropic.Message): Promise<void> {
  const db = stack.database.db;
  const interceptions = await db.selectFrom("aibridge_interceptions").selectAll().execute();
  assert.equal(interceptions.length, 1);
  const [interception] = interceptions;
  assert.equal(interception!.initiator_id, stack.user.id);
  assert.equal(interception!.provider, "anthropic");
  assert.ok(interception!.ended_at !== null, "the interception is ended");
  const prompts = await db.selectFrom("aibridge_user_prompts").select(["interception_id", "prompt"]).execute();
  assert.deepEqual(prompts, [{ interception_id: interception!.id, prompt: "keep this prompt" }]);
  const usages = await db.selectFrom("aibridge_token_usages").select(["interception_id", "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens"]).execute();
  assert.deepEqual(
    usages.map((u) => [u.interception_id, Number(u.input_tokens), Number(u.output_tokens), Number(u.cache_read_input_tokens), Number(u.cache_write_input_tokens)]),
    [[interception!.id, message.usage.input_tokens, message.usage.output_tokens, message.usage.cache_read_input_tokens ?? 0, message.usage.cache_creation_input_tokens ?? 0]],
    "the token counts the client saw",
  );
}

/** An Anthropic SDK stream through the replica, `events` events 100 ms apart, once its first event arrived. */
async function slowStreamStarted(replicaUrl: string, apiKey: string, events: number) {
  const client = new Anthropic({
    baseURL: `${replicaUrl}/anthropic`,
    apiKey,
    maxRetries: 0,
    defaultHeaders: { "x-emulator-event-delay-ms": "100", "x-emulator-events": String(events) },
  });
  const stream = client.messages.stream({ model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "keep this prompt" }] });
  await new Promise<void>((resolve) => stream.once("streamEvent", () => resolve()));
  return stream;
}

