// makeDirectory: mkdir -p with a mode, an existing directory no error, and a refusal at once
// where Node's recursive mkdir never returns (an entry under /proc).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { makeDirectory } from "./make-directory.js";

const roots: string[] = [];
after(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

describe("makeDirectory", () => {
  it("makes the missing entries with the mode, and takes an existing directory", async () => {
    const root = await mkdtemp(join(tmpdir(), "weir-mkdir-"));
    roots.push(root);
    const dir = join(root, "a", "b", "c");
    await makeDirectory(dir, 0o700);
    for (const entry of [join(root, "a"), join(root, "a", "b"), dir]) {
      const info = await stat(entry);
      assert.ok(info.isDirectory(), entry);
      assert.equal(info.mode & 0o777, 0o700, entry);
    }
    await makeDirectory(dir, 0o700);
    await makeDirectory(root, 0o755);
    assert.equal((await stat(root)).mode & 0o777, 0o700, "an existing directory keeps its mode");
  });

  it("refuses a path under a file", async () => {
    const root = await mkdtemp(join(tmpdir(), "weir-mkdir-"));
    roots.push(root);
    await writeFile(join(root, "file"), "");
    await assert.rejects(makeDirectory(join(root, "file", "dir"), 0o700), { code: "ENOTDIR" });
  });

  it("refuses at once an entry the kernel answers ENOENT for under an existing parent", { skip: !existsSync("/proc/self"), timeout: 5_000 }, async () => {
    await assert.rejects(makeDirectory("/proc/weir-nope/deeper", 0o700), { code: "ENOENT", message: "ENOENT: no such file or directory, mkdir '/proc/weir-nope'" });
  });
});
