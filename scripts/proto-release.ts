// npm run proto:release — writes proto/versions/v<MAJOR>.<MINOR>.binpb, the image of the
// contract at the version packages/proto declares, and lists its SHA-256 in SHA256SUMS. Every
// guard of proto:check must pass first: an image is a baseline every later change is checked
// against, so a contract that is broken, unlinted or stale must never become one. Released images
// are immutable: releasing a version again is a no-op when the contract is unchanged and an error
// when it changed.
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runGuards } from "./proto-guards.js";
import { buildImage, declaredVersion, recordDigest, rootFromArgs } from "./proto-tools.js";

const root = rootFromArgs(process.argv);
const version = await declaredVersion(root);
if (!version.history.some((e) => e.version === version.text)) {
  process.stderr.write(`API_VERSION ${version.text} has no entry in API_VERSION_HISTORY\n`);
  process.exit(1);
}
const failed = await runGuards(root, (line) => process.stderr.write(line));
if (failed > 0) {
  process.stderr.write(`not released: ${failed} guard(s) of proto:check failed\n`);
  process.exit(1);
}
const dir = join(root, "proto", "versions");
await mkdir(dir, { recursive: true });
const name = `v${version.text}.binpb`;
const target = join(dir, name);
const pending = `${target}.tmp`;
await buildImage(root, pending);
if (existsSync(target)) {
  const same = (await readFile(target)).equals(await readFile(pending));
  await rm(pending);
  if (!same) {
    process.stderr.write(`v${version.text} was already released with a different contract; bump the version\n`);
    process.exit(1);
  }
  process.stdout.write(`v${version.text} already released, unchanged\n`);
} else {
  await rename(pending, target);
  await recordDigest(root, target, name);
  process.stdout.write(`released ${target}\n`);
}
