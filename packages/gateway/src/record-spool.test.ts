// Pins the record spool's files: every record kind comes back byte for byte with its id, kind and
// interception; the bytes after the header are a RecordBatchRequest; files are private and
// listed oldest first, temporary and set-aside files never; a file cut short or not a spool
// file at all is refused with its path and the record that broke; a directory that cannot be
// written fails prepare().

import assert from "node:assert/strict";
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { RecordBatchRequestSchema } from "@weir/proto";
import { RecordSpool, SPOOL_MAGIC, SpoolFileError, endedRecord, interceptionRecord, promptRecord, recordFromEnvelope, thoughtRecord, tokenUsageRecord, toolUsageRecord } from "./index.js";
import type { GatewayRecord } from "./index.js";

const ID = "0b5e1c7a-9d2f-4c11-8e0a-5f3b7d9c2a41";
const AT = 1_764_576_000_123;

function lifecycle(id: string): GatewayRecord[] {
  return [
    interceptionRecord({
      id,
      initiatorId: "5a1f0e2d-3c4b-4a59-8e7f-6d5c4b3a2f10",
      apiKeyId: "abcdefghij",
      username: "alice",
      provider: "openai",
      model: "gpt-4o",
      client: "",
      clientSessionId: undefined,
      userAgent: "test",
      credentialKind: "centralized",
      credentialHint: "sk-...abcd",
      correlatingToolCallId: undefined,
      startedAtMs: AT,
    }),
    promptRecord(id, "m1", "héllo — 你好 👋🏽", AT + 1),
    tokenUsageRecord(id, "m1", { input: 12, output: 34, cacheRead: 5, cacheWrite: 6, extras: {} }, AT + 2),
    toolUsageRecord(id, "m1", { id: "call_1", name: "Write", input: '{"path":"a"}', itemId: "" }, AT + 3),
    thoughtRecord(id, { content: "thinking", source: "reasoning_summary" }, AT + 4),
    endedRecord(id, "sk-...abcd", AT + 5, undefined),
  ];
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "weir-spool-test-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("RecordSpool", () => {
  it("writes records that read back the same, in order, as a private file after a RecordBatchRequest header", async () => {
    const spool = new RecordSpool(join(dir, "round-trip", "nested"));
    await spool.prepare();
    assert.equal((await stat(spool.dir)).mode & 0o777, 0o700);
    const records = [...lifecycle(ID), ...lifecycle("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")];
    const [path, ...more] = await spool.write(records);
    assert.deepEqual(more, [], "one file");
    assert.ok(path !== undefined);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await spool.list(), [path]);
    assert.deepEqual(await readdir(spool.dir), [path.slice(spool.dir.length + 1)], "no temporary file is left");

    const back = await spool.read(path);
    assert.deepEqual(
      back.map((r) => [r.id, r.interceptionId, r.kind, Buffer.from(r.envelope).toString("hex"), r.sizeBytes]),
      records.map((r) => [r.id, r.interceptionId, r.kind, Buffer.from(r.envelope).toString("hex"), r.envelope.length]),
    );
    assert.deepEqual(
      back.slice(0, 6).map((r) => r.kind),
      ["interception", "prompt_usage", "token_usage", "tool_usage", "model_thought", "interception_ended"],
    );
    assert.ok(back.every((r, i) => r.interceptionId === (i < 6 ? ID : "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")));

    const bytes = await readFile(path);
    assert.equal(bytes.subarray(0, SPOOL_MAGIC.length).toString("latin1"), "weir-records/1\n");
    const batch = fromBinary(RecordBatchRequestSchema, bytes.subarray(SPOOL_MAGIC.length));
    assert.deepEqual(
      batch.records.map((e) => e.id),
      records.map((r) => r.id),
      "the body is the RecordBatchRequest a control plane would take",
    );

    await spool.remove(path);
    await spool.remove(path); // gone already: fine
    assert.deepEqual(await spool.list(), []);
  });

  it("lists spool files oldest first, and never temporary, set-aside or other files", async () => {
    const spool = new RecordSpool(join(dir, "listing"));
    await spool.prepare();
    let now = 1_000;
    const spoolAt = new RecordSpool(spool.dir, () => now);
    const [second] = await spoolAt.write(lifecycle(ID).slice(1));
    now = 999;
    const [first] = await spoolAt.write(lifecycle(ID).slice(0, 1));
    assert.match(first!, /\/records-000000000000999-\d+-[0-9a-f]{8}-0001\.records$/);
    await writeFile(join(spool.dir, ".records-000000000000001-1-aaaa.records.tmp"), "partial");
    await writeFile(join(spool.dir, "records-000000000000002-1-bbbb.records.corrupt"), "bad");
    await writeFile(join(spool.dir, "notes.txt"), "hello");
    assert.deepEqual(await spool.list(), [first, second]);
  });

  it("refuses a file that is not a whole spool file, naming it and the record that broke", async () => {
    const spool = new RecordSpool(join(dir, "broken"));
    await spool.prepare();
    const [cut] = await spool.write(lifecycle(ID));
    assert.ok(cut !== undefined);
    const size = (await stat(cut)).size;
    await truncate(cut, size - 3);
    await assert.rejects(spool.read(cut), (err: unknown) => {
      assert.ok(err instanceof SpoolFileError);
      assert.equal(err.message, `${cut} is not a whole record spool file: record 6 is cut short`);
      return true;
    });

    const foreign = join(spool.dir, "records-000000000000003-1-cccc.records");
    await writeFile(foreign, "{\"records\": []}\n");
    await assert.rejects(spool.read(foreign), { name: "SpoolFileError", message: `${foreign} is not a whole record spool file: it does not start with the spool header` });

    // A whole length-prefixed message that is not a record envelope (no id, no record).
    const empty = join(spool.dir, "records-000000000000004-1-dddd.records");
    await writeFile(empty, Buffer.concat([SPOOL_MAGIC, Buffer.from([0x0a]), lifecycle(ID)[0]!.envelope, Buffer.from([0x0a, 0])]));
    await assert.rejects(spool.read(empty), { message: `${empty} is not a whole record spool file: record 2: a record envelope without an id or a record` });
    const untagged = join(spool.dir, "records-000000000000005-1-eeee.records");
    await writeFile(untagged, Buffer.concat([SPOOL_MAGIC, lifecycle(ID)[0]!.envelope]));
    await assert.rejects(spool.read(untagged), { message: `${untagged} is not a whole record spool file: record 1 does not start with the records tag` });

    const moved = await spool.quarantine(cut);
    assert.equal(moved, `${cut}.corrupt`);
    assert.ok(!(await spool.list()).includes(cut));
  });

  it("goes on into further files past maxFileBytes, each whole, in order", async () => {
    const records = [...lifecycle(ID), ...lifecycle("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")];
    const biggest = Math.max(...records.map((r) => r.envelope.length + 1));
    const spool = new RecordSpool(join(dir, "split"), Date.now, SPOOL_MAGIC.length + 2 * biggest);
    await spool.prepare();
    const paths = await spool.write(records);
    assert.ok(paths.length >= 4, `${paths.length} files`);
    assert.deepEqual(await spool.list(), paths, "listed in the order written");
    assert.ok(paths.every((p, i) => p.endsWith(`-${String(i + 1).padStart(4, "0")}.records`)));
    const back: string[] = [];
    for (const path of paths) {
      assert.ok((await stat(path)).size <= SPOOL_MAGIC.length + 2 * biggest);
      for (const r of await spool.read(path)) back.push(r.id);
    }
    assert.deepEqual(back, records.map((r) => r.id));
    // One record bigger than the bound still goes, alone.
    const tiny = new RecordSpool(join(dir, "split-tiny"), Date.now, 1);
    await tiny.prepare();
    assert.equal((await tiny.write(records.slice(0, 3))).length, 3);
  });

  // A write that fails part-way keeps what it wrote, whole, and says how much: the file-size
  // limit of a child process (ulimit -f, which binds root too; Node then gets EFBIG) lets the
  // first file through and stops the second, which holds one large prompt. The child runs this
  // checkout's source (through tsx), not a build.
  it("a write failing part-way keeps the files already written and says how many records they hold", async () => {
    const target = join(dir, "part-way");
    const script = [
      `import { RecordSpool, SpoolWriteError, promptRecord } from ${JSON.stringify(join(import.meta.dirname, "index.ts"))};`,
      `const id = ${JSON.stringify(ID)};`,
      `const records = [1, 2, 3].map((n) => promptRecord(id, "m" + n, "short " + n, ${AT}));`,
      `records.push(promptRecord(id, "m4", "x".repeat(8192), ${AT}));`,
      `const spool = new RecordSpool(${JSON.stringify(target)}, Date.now, 1024);`,
      "await spool.prepare();",
      "try { await spool.write(records); process.stdout.write(JSON.stringify({ wrote: true })); }",
      "catch (err) { process.stdout.write(JSON.stringify({ name: err.name, isClass: err instanceof SpoolWriteError, written: err.written, paths: err.paths, cause: err.cause?.code, message: err.message })); }",
    ].join("\n");
    const { stdout } = await promisify(execFile)("bash", ["-c", 'ulimit -f 4 && exec "$0" --import tsx --input-type=module -e "$1"', process.execPath, script]);
    const outcome = JSON.parse(stdout);
    assert.deepEqual(
      { ...outcome, message: undefined },
      { name: "SpoolWriteError", isClass: true, written: 3, paths: outcome.paths, cause: "EFBIG", message: undefined },
    );
    assert.match(outcome.message, /^the record spool took 3 records, then failed: EFBIG: file too large/);
    const spool = new RecordSpool(target);
    assert.equal(outcome.paths.length, 1);
    assert.deepEqual(await spool.list(), outcome.paths, "the first file stays, listed");
    assert.deepEqual((await spool.read(outcome.paths[0])).map((r) => r.kind), ["prompt_usage", "prompt_usage", "prompt_usage"]);
    assert.deepEqual((await readdir(target)).filter((n) => n.endsWith(".tmp")), [], "the failed file's temporary is removed");
  });

  // A replay cut short hands what is left of a file to new files, which must sort where the
  // file did: before its later parts, or an interception's end could be replayed before its start.
  it("names files written in place of another so that they sort where it did, before its later parts, at a bounded length", async () => {
    const records = lifecycle(ID);
    const biggest = Math.max(...records.map((r) => r.envelope.length + 1));
    const spool = new RecordSpool(join(dir, "in-place"), () => 5_000, SPOOL_MAGIC.length + biggest);
    await spool.prepare();
    const parts = await spool.write(records);
    assert.ok(parts.length >= 3, `${parts.length} parts`);
    const later = new RecordSpool(spool.dir, () => 9_000, SPOOL_MAGIC.length + biggest);
    // Each generation replaces the first file of the one before, cut short again and again.
    let current = parts;
    const remaining: string[] = parts.slice(1);
    for (let generation = 0; generation < 30; generation++) {
      const replacing = await later.write(records.slice(0, 3), { inPlaceOf: current[0] });
      assert.ok(replacing.length >= 2);
      await spool.remove(current[0]!);
      remaining.unshift(...replacing.slice(1));
      current = replacing;
      // "~999999-<8 hex>" more than the root's name, every generation: no growth.
      assert.equal(current[0]!.length, parts[0]!.length + 21, `generation ${generation}: ${current[0]}`);
    }
    assert.match(current[0]!, /~999970-[0-9a-f]{8}-0001\.records$/);
    assert.deepEqual(await spool.list(), [current[0], ...remaining], "each generation sorts before the rest of the one it replaced, the root's later parts last");
  });

  it("prepare removes temporary files a crash left long ago, and no others", async () => {
    let now = Date.now();
    const spool = new RecordSpool(join(dir, "stale"), () => now);
    await spool.prepare();
    const stale = join(spool.dir, ".records-000000000000001-1-aaaaaaaa-0001.records.tmp");
    const fresh = join(spool.dir, ".records-000000000000002-1-bbbbbbbb-0001.records.tmp");
    await writeFile(stale, "partial");
    await writeFile(fresh, "partial");
    const notOurs = join(spool.dir, ".editor-swap.tmp");
    await writeFile(notOurs, "x");
    await utimes(notOurs, new Date(now - 60 * 60_000), new Date(now - 60 * 60_000));
    await mkdir(join(spool.dir, ".records-000000000000003-1-cccccccc-0001.records.tmp"));
    await utimes(stale, new Date(now - 11 * 60_000), new Date(now - 11 * 60_000));
    await spool.prepare();
    assert.deepEqual(
      (await readdir(spool.dir)).sort(),
      [".editor-swap.tmp", ".records-000000000000002-1-bbbbbbbb-0001.records.tmp", ".records-000000000000003-1-cccccccc-0001.records.tmp"],
      "a write under way (or just interrupted) is left alone, and so is what is not the spool's",
    );
    now += 11 * 60_000;
    await spool.prepare();
    assert.deepEqual((await readdir(spool.dir)).sort(), [".editor-swap.tmp", ".records-000000000000003-1-cccccccc-0001.records.tmp"]);
  });

  it("recordFromEnvelope refuses bytes that are more or less than one envelope", () => {
    const [start] = lifecycle(ID);
    assert.equal(recordFromEnvelope(start!.envelope).id, ID);
    assert.throws(() => recordFromEnvelope(Buffer.concat([start!.envelope, Buffer.from([1])])), /not one whole length-prefixed record envelope/);
    assert.throws(() => recordFromEnvelope(start!.envelope.subarray(0, start!.envelope.length - 1)), /not one whole length-prefixed record envelope/);
  });

  it("prepare refuses a directory others may write to or another user owns", async () => {
    const open = join(dir, "world-writable");
    await new RecordSpool(open).prepare();
    await chmod(open, 0o777);
    await assert.rejects(new RecordSpool(open).prepare(), {
      message: "group or others may write to it (mode 0777): records planted there would be submitted under this gateway's key; chmod 700 it",
    });
    await chmod(open, 0o700);
    await new RecordSpool(open).prepare();
    if (process.getuid?.() === 0) {
      await chown(open, 12345, 12345);
      await assert.rejects(new RecordSpool(open).prepare(), {
        message: "it is owned by uid 12345, not by this process's uid 0: its files would be submitted under this gateway's key",
      });
    }
  });

  it("prepare fails on a path it cannot write to", async () => {
    const file = join(dir, "a-file");
    await writeFile(file, "");
    await assert.rejects(new RecordSpool(join(file, "spool")).prepare(), { code: "ENOTDIR" });
    if (process.getuid?.() !== 0) {
      const locked = join(dir, "locked");
      await new RecordSpool(locked).prepare();
      await chmod(locked, 0o500);
      await assert.rejects(new RecordSpool(locked).prepare(), { code: "EACCES" });
    }
  });
});
