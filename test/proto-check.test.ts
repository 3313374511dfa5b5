// The contract guard rails fail when they must. Every case runs proto:check on a temporary copy
// of the tree (never the real one) after making one bad (or one good) change to it.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { API_MAJOR, API_MINOR } from "@weir/proto";
import { releasedImages } from "../scripts/proto-tools.js";

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const copies: string[] = [];

async function copyTree(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "weir-guard-"));
  copies.push(dir);
  for (const path of ["buf.yaml", "buf.gen.yaml", "proto", "scripts", join("packages", "proto", "src")]) {
    await cp(join(repo, path), join(dir, path), { recursive: true });
  }
  await symlink(join(repo, "node_modules"), join(dir, "node_modules"));
  return dir;
}

async function edit(root: string, path: string, change: (text: string) => string): Promise<void> {
  const file = join(root, path);
  const before = await readFile(file, "utf8");
  const afterText = change(before);
  assert.notEqual(afterText, before, `edit of ${path} changed nothing`);
  await writeFile(file, afterText);
}

async function protoCheck(root: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", join(repo, "scripts", "proto-check.ts"), "--root", root], { cwd: repo });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

async function protoRelease(root: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", join(repo, "scripts", "proto-release.ts"), "--root", root], { cwd: repo });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

/** Declares the next minor with a history entry. */
async function bumpMinor(root: string): Promise<void> {
  await edit(root, VERSION_TS, (t) =>
    t
      .replace(`API_MINOR = ${API_MINOR}`, `API_MINOR = ${API_MINOR + 1}`)
      .replace(/\n\];\s*$/, `\n  { version: "${NEXT}", changes: "A change." },\n];\n`),
  );
}

async function generate(root: string): Promise<void> {
  await run(join(repo, "node_modules", ".bin", "buf"), ["generate"], { cwd: root });
}

const AUTHORIZER = "proto/weir/gateway/v1/authorizer.proto";
const VERSION_TS = "packages/proto/src/version.ts";
// The version this tree declares (and has released), and the next minor.
const CURRENT = `${API_MAJOR}.${API_MINOR}`;
const NEXT = `${API_MAJOR}.${API_MINOR + 1}`;
const escaped = (v: string) => v.replace(".", "\\.");
// An additive change that no later release can collide with: a message of its own at the end.
const addField = (t: string) => `${t}\n// A probe of the guard rails' tests.\nmessage GuardRailProbe {\n  // Its only field.\n  string probe = 1;\n}\n`;
// key_expires_at came with 1.1 and stays in every later release.
const ANCHOR = "google.protobuf.Timestamp key_expires_at = 4;";
// Renumbers a field the current release added: wire-breaking for a gateway of that release only.
const renumber = (t: string) => t.replace(ANCHOR, "google.protobuf.Timestamp key_expires_at = 5;");

after(async () => {
  await Promise.all(copies.map((d) => rm(d, { recursive: true, force: true })));
});

describe("proto:check", () => {
  // The guards below compare against the latest release: it must be the declared version.
  it(`has released the declared version ${CURRENT}`, () => {
    assert.equal(releasedImages(repo).at(-1)?.text, CURRENT);
  });

  it("passes on an unchanged tree", async () => {
    const got = await protoCheck(await copyTree());
    assert.equal(got.code, 0, got.out);
    assert.match(got.out, /^ok {3}lint$/m);
    assert.match(got.out, /^ok {3}breaking$/m);
    assert.match(got.out, /^ok {3}released images are intact$/m);
    assert.match(got.out, /^ok {3}generated code is fresh$/m);
    assert.match(got.out, /^ok {3}version rule$/m);
  });

  // Deleting a field breaks deployed gateways: buf breaking must refuse it.
  it("fails breaking when a field is deleted", async () => {
    const root = await copyTree();
    await edit(root, AUTHORIZER, (t) => t.replace(/\s*\/\/ The owner's username\.\n\s*string username = 3;/, ""));
    await generate(root);
    const got = await protoCheck(root);
    assert.equal(got.code, 1, got.out);
    assert.match(got.out, /^FAIL breaking: .*/m);
    assert.match(got.out, /username/);
  });

  // The audited hole: released as a new version, a broken contract became its own baseline and
  // passed. Now proto:release refuses it, and an image written by hand is caught twice over.
  it("refuses to release a breaking change as a new minor, and catches its image written by hand", async () => {
    const root = await copyTree();
    await edit(root, AUTHORIZER, renumber);
    await generate(root);
    await bumpMinor(root);
    const released = await protoRelease(root);
    assert.equal(released.code, 1, released.out);
    assert.match(released.out, /^FAIL breaking: [\s\S]*key_expires_at[\s\S]*against the released \d+\.\d+: a deployed gateway of that version would break/m);
    assert.match(released.out, /^not released: 1 guard\(s\) of proto:check failed$/m);
    assert.equal(existsSync(join(root, "proto", "versions", `v${NEXT}.binpb`)), false);

    await run(join(repo, "node_modules", ".bin", "buf"), ["build", "--exclude-source-info", "-o", `proto/versions/v${NEXT}.binpb`], { cwd: root });
    const got = await protoCheck(root);
    assert.equal(got.code, 1, got.out);
    assert.match(got.out, new RegExp(`^FAIL released images are intact: v${escaped(NEXT)}\\.binpb is not listed in proto/versions/SHA256SUMS`, "m"));
    assert.match(got.out, /^FAIL breaking: /m);
  });

  it("fails when a released image is rewritten, deleted or left without its history entry", async () => {
    const rewritten = await copyTree();
    await edit(rewritten, AUTHORIZER, renumber);
    await run(join(repo, "node_modules", ".bin", "buf"), ["build", "--exclude-source-info", "-o", `proto/versions/v${CURRENT}.binpb`], { cwd: rewritten });
    const got = await protoCheck(rewritten);
    assert.equal(got.code, 1, got.out);
    assert.match(got.out, new RegExp(`^FAIL released images are intact: v${escaped(CURRENT)}\\.binpb differs from the image released`, "m"));

    const deleted = await copyTree();
    await rm(join(deleted, "proto", "versions", "v1.0.binpb"));
    assert.match((await protoCheck(deleted)).out, /^FAIL released images are intact: v1\.0\.binpb is listed in SHA256SUMS but missing/m);

    const forgotten = await copyTree();
    await edit(forgotten, VERSION_TS, (t) => t.replace(/\{\s*version: "1\.0",/, '{ version: "0.9",'));
    assert.match((await protoCheck(forgotten)).out, /^FAIL released images are intact: the released 1\.0 has no entry in API_VERSION_HISTORY/m);
  });

  // In a git checkout a change cannot rewrite an image together with its SHA256SUMS line either:
  // the image must still be the one its first commit added.
  it("fails when a committed image is rewritten with its digest, or deleted with it", async () => {
    const root = await copyTree();
    const gitIn = (...args: string[]) => run("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: root });
    await gitIn("init", "-q");
    await gitIn("add", "-A");
    await gitIn("commit", "-q", "-m", "released");
    assert.equal((await protoCheck(root)).code, 0);

    const image = join(root, "proto", "versions", `v${CURRENT}.binpb`);
    await edit(root, AUTHORIZER, renumber);
    await run(join(repo, "node_modules", ".bin", "buf"), ["build", "--exclude-source-info", "-o", image], { cwd: root });
    const digest = (await run("sha256sum", [image])).stdout.split(" ")[0];
    await edit(root, "proto/versions/SHA256SUMS", (t) => t.replace(new RegExp(`^[0-9a-f]{64}(  v${escaped(CURRENT)}\\.binpb)$`, "m"), `${digest}$1`));
    await gitIn("commit", "-q", "-am", "rewritten");
    const rewritten = await protoCheck(root);
    assert.equal(rewritten.code, 1, rewritten.out);
    assert.match(rewritten.out, new RegExp(`^FAIL released images are intact: v${escaped(CURRENT)}\\.binpb differs from the image released in [0-9a-f]{12}`, "m"));

    await rm(image);
    await edit(root, "proto/versions/SHA256SUMS", (t) => t.replace(new RegExp(`^.*  v${escaped(CURRENT)}\\.binpb\\n`, "m"), ""));
    await gitIn("commit", "-q", "-am", "deleted");
    assert.match((await protoCheck(root)).out, new RegExp(`^FAIL released images are intact: v${escaped(CURRENT)}\\.binpb, released in [0-9a-f]{12}, is missing`, "m"));
  });

  it("checks by its own rules: buf.yaml cannot relax them", async () => {
    const root = await copyTree();
    await edit(root, "buf.yaml", (t) => t.replace("breaking:\n  use:\n    - FILE", "breaking:\n  use:\n    - FILE\n  except:\n    - FIELD_NO_DELETE"));
    await edit(root, AUTHORIZER, (t) => t.replace(/\s*\/\/ The owner's username\.\n\s*string username = 3;/, ""));
    await generate(root);
    const got = await protoCheck(root);
    assert.equal(got.code, 1, got.out);
    assert.match(got.out, /^FAIL breaking: [\s\S]*"username"/m);
  });

  it("releases an additive minor: the image and its digest, which proto:check then accepts", async () => {
    const root = await copyTree();
    await edit(root, AUTHORIZER, addField);
    await generate(root);
    await bumpMinor(root);
    const released = await protoRelease(root);
    assert.equal(released.code, 0, released.out);
    assert.match(released.out, new RegExp(`released .*v${escaped(NEXT)}\\.binpb`));
    assert.match(await readFile(join(root, "proto", "versions", "SHA256SUMS"), "utf8"), new RegExp(`^[0-9a-f]{64}  v${escaped(NEXT)}\\.binpb$`, "m"));
    const got = await protoCheck(root);
    assert.equal(got.code, 0, got.out);
  });

  // An additive change is fine for compatibility but must come with a version bump.
  it("fails the version rule when a field is added without a bump", async () => {
    const root = await copyTree();
    await edit(root, AUTHORIZER, addField);
    await generate(root);
    const got = await protoCheck(root);
    assert.equal(got.code, 1, got.out);
    assert.match(got.out, /^ok {3}breaking$/m);
    assert.match(got.out, /^ok {3}generated code is fresh$/m);
    assert.match(got.out, new RegExp(`^FAIL version rule: the contract changed since the released ${escaped(CURRENT)} but API_VERSION is still ${escaped(CURRENT)}`, "m"));
  });

  it("fails the version rule when the bump has no history entry", async () => {
    const root = await copyTree();
    await edit(root, AUTHORIZER, addField);
    await generate(root);
    await edit(root, VERSION_TS, (t) => t.replace(`API_MINOR = ${API_MINOR}`, `API_MINOR = ${API_MINOR + 1}`));
    const got = await protoCheck(root);
    assert.equal(got.code, 1, got.out);
    assert.match(got.out, new RegExp(`^FAIL version rule: API_VERSION ${escaped(NEXT)} has no entry in API_VERSION_HISTORY$`, "m"));
  });

  it("fails the version rule when the bump skips versions", async () => {
    const root = await copyTree();
    await edit(root, AUTHORIZER, addField);
    await generate(root);
    const skipped = `${API_MAJOR}.${API_MINOR + 2}`;
    await edit(root, VERSION_TS, (t) =>
      t.replace(`API_MINOR = ${API_MINOR}`, `API_MINOR = ${API_MINOR + 2}`).replace(/\n\];\s*$/, `\n  { version: "${skipped}", changes: "A change." },\n];\n`),
    );
    const got = await protoCheck(root);
    assert.equal(got.code, 1, got.out);
    assert.match(got.out, new RegExp(`^FAIL version rule: API_VERSION ${escaped(skipped)} skips versions: after the released ${escaped(CURRENT)} comes ${escaped(NEXT)} \\(additive\\) or ${API_MAJOR + 1}\\.0 \\(breaking\\)$`, "m"));
  });

  it("fails the version rule when a history entry says nothing, or a version has two", async () => {
    for (const [entry, want] of [
      [`{ version: "${NEXT}", changes: "  " }`, `the API_VERSION_HISTORY entry of ${escaped(NEXT)} says nothing: write what changed and why`],
      [`{ version: "${NEXT}", changes: "A change." },\n  { version: "${NEXT}", changes: "Again." }`, `API_VERSION_HISTORY has ${escaped(NEXT)} twice: one entry per version`],
    ] as const) {
      const root = await copyTree();
      await edit(root, AUTHORIZER, addField);
      await generate(root);
      await edit(root, VERSION_TS, (t) => t.replace(`API_MINOR = ${API_MINOR}`, `API_MINOR = ${API_MINOR + 1}`).replace(/\n\];\s*$/, `\n  ${entry},\n];\n`));
      const got = await protoCheck(root);
      assert.equal(got.code, 1, got.out);
      assert.match(got.out, new RegExp(`^FAIL version rule: ${want}$`, "m"));
    }
  });

  // A proto file that does not parse is not a breaking change: buf's own message, without the
  // advice to undo a change a deployed gateway would break on.
  it("reports a proto file that does not parse as such, not as a breaking change", async () => {
    const root = await copyTree();
    await edit(root, AUTHORIZER, (t) => t.replace("string username = 3;", "string username = 3"));
    const got = await protoCheck(root);
    assert.equal(got.code, 1, got.out);
    assert.match(got.out, /^FAIL breaking: buf build failed:\n.*authorizer\.proto:\d+:\d+:/m);
    assert.doesNotMatch(got.out, /a deployed gateway of that version would break/);
  });

  it("releases onto a SHA256SUMS whose last line lost its newline without running the lines together", async () => {
    const root = await copyTree();
    await edit(root, "proto/versions/SHA256SUMS", (t) => t.replace(/\n$/, ""));
    await edit(root, AUTHORIZER, addField);
    await generate(root);
    await bumpMinor(root);
    const released = await protoRelease(root);
    assert.equal(released.code, 0, released.out);
    const lines = (await readFile(join(root, "proto", "versions", "SHA256SUMS"), "utf8")).split("\n");
    assert.deepEqual(lines.slice(-3).map((l) => l.replace(/^[0-9a-f]{64}  /, "")), [`v${CURRENT}.binpb`, `v${NEXT}.binpb`, ""]);
    const got = await protoCheck(root);
    assert.equal(got.code, 0, got.out);
  });

  it("passes an additive change with a minor bump and a history entry", async () => {
    const root = await copyTree();
    await edit(root, AUTHORIZER, addField);
    await generate(root);
    await edit(root, VERSION_TS, (t) =>
      t
        .replace(`API_MINOR = ${API_MINOR}`, `API_MINOR = ${API_MINOR + 1}`)
        .replace(/\n\];\s*$/, `\n  { version: "${NEXT}", changes: "Adds GuardRailProbe." },\n];\n`),
    );
    const got = await protoCheck(root);
    assert.equal(got.code, 0, got.out);
  });

  // Generated code is committed; a hand edit (or a forgotten regeneration) must be caught.
  it("fails freshness when a generated file is edited", async () => {
    const root = await copyTree();
    await edit(root, "packages/proto/src/gen/weir/gateway/v1/authorizer_pb.ts", (t) => t + "\n// hand edit\n");
    const got = await protoCheck(root);
    assert.equal(got.code, 1, got.out);
    assert.match(got.out, /^FAIL generated code is fresh: .*stale weir\/gateway\/v1\/authorizer_pb\.ts/m);
    assert.match(got.out, /^ok {3}version rule$/m);
  });

  it("fails freshness when the proto changed but the code was not regenerated", async () => {
    const root = await copyTree();
    await edit(root, AUTHORIZER, addField);
    const got = await protoCheck(root);
    assert.equal(got.code, 1, got.out);
    assert.match(got.out, /^FAIL generated code is fresh: .*stale weir\/gateway\/v1\/authorizer_pb\.ts/m);
  });
});
