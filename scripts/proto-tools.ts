// Shared pieces of the contract guard rails (proto:check, proto:release). Every function takes
// the tree's root so tests can run the guards on a temporary copy instead of the real tree.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A released image in proto/versions/, e.g. v1.0.binpb. */
export interface ReleasedImage {
  readonly version: { major: number; minor: number };
  readonly text: string;
  readonly path: string;
}

/** The API version and history a tree's packages/proto declares. */
export interface DeclaredVersion {
  readonly major: number;
  readonly minor: number;
  readonly text: string;
  readonly history: readonly { version: string; changes: string }[];
}

/** Runs buf in `root`; resolves with its output, rejects with its stderr in the message. */
export async function buf(root: string, args: string[]): Promise<string> {
  const bin = join(root, "node_modules", ".bin", "buf");
  try {
    const { stdout, stderr } = await run(bin, args, { cwd: root, maxBuffer: 64 << 20 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`buf ${args[0]} failed:\n${(e.stdout ?? "") + (e.stderr ?? "") || e.message}`);
  }
}

/** Released images, newest last. */
export function releasedImages(root: string): ReleasedImage[] {
  const dir = join(root, "proto", "versions");
  if (!existsSync(dir)) return [];
  const images: ReleasedImage[] = [];
  for (const name of readdirSync(dir)) {
    const m = /^v(\d+)\.(\d+)\.binpb$/.exec(name);
    if (!m) continue;
    const version = { major: Number(m[1]), minor: Number(m[2]) };
    images.push({ version, text: `${version.major}.${version.minor}`, path: join(dir, name) });
  }
  return images.sort((a, b) => a.version.major - b.version.major || a.version.minor - b.version.minor);
}

/** Loads packages/proto/src/version.ts of the tree at `root` (this script runs under tsx). */
export async function declaredVersion(root: string): Promise<DeclaredVersion> {
  const url = pathToFileURL(join(root, "packages", "proto", "src", "version.ts")).href;
  const mod = (await import(url)) as {
    API_MAJOR: number;
    API_MINOR: number;
    API_VERSION: string;
    API_VERSION_HISTORY: readonly { version: string; changes: string }[];
  };
  return { major: mod.API_MAJOR, minor: mod.API_MINOR, text: mod.API_VERSION, history: mod.API_VERSION_HISTORY };
}

/**
 * Builds the tree's image without source info, so comment-only edits do not count as a
 * contract change; released images are written the same way.
 */
export async function buildImage(root: string, out: string): Promise<void> {
  await buf(root, ["build", "--exclude-source-info", "-o", out]);
}

/** Parses `--root DIR` from argv; defaults to the current directory. */
export function rootFromArgs(argv: readonly string[]): string {
  const i = argv.indexOf("--root");
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : process.cwd();
}

/**
 * buf breaking's rules, pinned here rather than read from buf.yaml: the change being checked must
 * not be able to relax them. `tree` checks the module at the root; `image` compares two images.
 */
export const BREAKING_RULES = Object.freeze({
  tree: JSON.stringify({ version: "v2", modules: [{ path: "proto" }], breaking: { use: ["FILE"] } }),
  image: JSON.stringify({ version: "v2", breaking: { use: ["FILE"] } }),
});

/** proto/versions/SHA256SUMS: `<sha256>  v1.0.binpb` per released image, as sha256sum writes it. */
export function digestsPath(root: string): string {
  return join(root, "proto", "versions", "SHA256SUMS");
}

export async function imageDigest(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

/** The released images' digests by file name. */
export async function readDigests(root: string): Promise<Map<string, string>> {
  const path = digestsPath(root);
  const digests = new Map<string, string>();
  if (!existsSync(path)) return digests;
  for (const line of (await readFile(path, "utf8")).split("\n")) {
    const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line.trim());
    if (m) digests.set(m[2]!, m[1]!);
  }
  return digests;
}

export async function recordDigest(root: string, imagePath: string, name: string): Promise<void> {
  const path = digestsPath(root);
  // A file whose last line lost its newline (an editor) would get the new line run into it.
  const listed = existsSync(path) ? await readFile(path, "utf8") : "";
  const separator = listed === "" || listed.endsWith("\n") ? "" : "\n";
  await appendFile(path, `${separator}${await imageDigest(imagePath)}  ${name}\n`);
}

/** Runs git in `root`; undefined when `root` is not inside a git work tree (a tarball, a test's copy). */
export async function git(root: string, args: string[]): Promise<Buffer | undefined> {
  try {
    await run("git", ["rev-parse", "--is-inside-work-tree"], { cwd: root });
  } catch {
    return undefined;
  }
  const { stdout } = await run("git", args, { cwd: root, encoding: "buffer", maxBuffer: 64 << 20 });
  return stdout;
}

/**
 * Every image ever committed under proto/versions/, with the commit that first added it: what
 * SHA256SUMS alone cannot tell (a change may rewrite an image and its line together).
 */
export async function committedImages(root: string): Promise<{ name: string; commit: string; bytes: Buffer }[] | undefined> {
  const log = await git(root, ["log", "--reverse", "--diff-filter=A", "--format=commit %H", "--name-only", "--", "proto/versions/"]);
  if (log === undefined) return undefined;
  const firstAdded = new Map<string, string>();
  let commit = "";
  for (const line of log.toString("utf8").split("\n")) {
    if (line.startsWith("commit ")) commit = line.slice("commit ".length);
    else if (/^proto\/versions\/v\d+\.\d+\.binpb$/.test(line) && !firstAdded.has(line)) firstAdded.set(line, commit);
  }
  const images = [];
  for (const [path, at] of firstAdded) {
    images.push({ name: path.slice("proto/versions/".length), commit: at, bytes: (await git(root, ["show", `${at}:${path}`]))! });
  }
  return images;
}
