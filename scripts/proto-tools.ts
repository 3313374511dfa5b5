// Shared pieces of the contract guard rails (proto:check, proto:release). Every function takes
// the tree's root so tests can run the guards on a temporary copy instead of the real tree.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
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
