// The contract guard rails (DESIGN §2) that proto:check runs and proto:release runs before it
// writes an image, fully offline:
//   1. buf lint;
//   2. released images: each is listed with its SHA-256 in proto/versions/SHA256SUMS, has a
//      history entry and, in a git checkout, is byte for byte the image its first commit added,
//      so a released image rewritten, deleted or slipped in fails, not only shows as a changed
//      binary in review;
//   3. buf breaking, by pinned rules (a change cannot relax them in buf.yaml): the tree against
//      EVERY released image, and each released image against the one before it — so releasing a
//      broken contract as a new version cannot make it its own baseline;
//   4. generated code in packages/proto/src/gen is what buf generate produces today;
//   5. the version rule: a contract that differs from the latest release needs the next version
//      (minor, or major .0) with a history entry; a new major needs its own proto package.
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { devNull, tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { BREAKING_RULES, buf, buildImage, committedImages, declaredVersion, imageDigest, readDigests, releasedImages } from "./proto-tools.js";

type Guard = { name: string; check: (root: string, scratch: string) => Promise<void> };

async function listFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

const GEN_DIR = join("packages", "proto", "src", "gen");

/** buf breaking's output with the step that mends it. */
function breakingFailure(against: string, err: unknown): Error {
  return new Error(
    `${(err as Error).message.trim()}\n  (against ${against}: a deployed gateway of that version would break. Undo the change, or make it ` +
      `additive — a new field or message instead of changing one — and bump API_MINOR; a breaking change needs a new major in its own package)`,
  );
}

const guards: Guard[] = [
  { name: "lint", check: async (root) => void (await buf(root, ["lint"])) },
  {
    name: "released images are intact",
    check: async (root) => {
      const images = releasedImages(root);
      const listed = await readDigests(root);
      const { history } = await declaredVersion(root);
      const problems: string[] = [];
      for (const image of images) {
        const name = basename(image.path);
        const want = listed.get(name);
        if (want === undefined) problems.push(`${name} is not listed in proto/versions/SHA256SUMS (write images with npm run proto:release)`);
        else if (want !== (await imageDigest(image.path))) problems.push(`${name} differs from the image released (released images never change: bump the version instead)`);
        if (!history.some((e) => e.version === image.text)) problems.push(`the released ${image.text} has no entry in API_VERSION_HISTORY`);
      }
      for (const name of listed.keys()) {
        if (!images.some((i) => basename(i.path) === name)) problems.push(`${name} is listed in SHA256SUMS but missing (released images are never deleted)`);
      }
      // A change rewriting an image and its line together still differs from the image's first
      // commit, which only rewriting history could hide.
      for (const committed of (await committedImages(root)) ?? []) {
        const image = images.find((i) => basename(i.path) === committed.name);
        const short = committed.commit.slice(0, 12);
        if (image === undefined) problems.push(`${committed.name}, released in ${short}, is missing (released images are never deleted)`);
        else if (!(await readFile(image.path)).equals(committed.bytes)) problems.push(`${committed.name} differs from the image released in ${short} (released images never change: bump the version instead)`);
      }
      if (problems.length > 0) throw new Error(problems.join("; "));
    },
  },
  {
    name: "breaking",
    check: async (root) => {
      const images = releasedImages(root);
      for (const image of images) {
        try {
          await buf(root, ["breaking", "--against", image.path, "--config", BREAKING_RULES.tree]);
        } catch (err) {
          // buf answers a file that does not parse or compile as it answers a breaking change:
          // that is no breaking change, and undoing the change is not the only way to mend it.
          await buf(root, ["build", "--output", devNull]);
          throw breakingFailure(`the released ${image.text}`, err);
        }
      }
      for (let i = 1; i < images.length; i++) {
        const [earlier, later] = [images[i - 1]!, images[i]!];
        try {
          await buf(root, ["breaking", later.path, "--against", earlier.path, "--config", BREAKING_RULES.image]);
        } catch (err) {
          throw breakingFailure(`the released ${earlier.text}, by the released ${later.text}`, err);
        }
      }
    },
  },
  {
    name: "generated code is fresh",
    check: async (root, scratch) => {
      const out = join(scratch, "gen");
      await buf(root, ["generate", "--output", out]);
      const fresh = join(out, GEN_DIR);
      const committed = join(root, GEN_DIR);
      const [want, have] = await Promise.all([listFiles(fresh), listFiles(committed)]);
      const problems: string[] = [];
      for (const f of want) if (!have.includes(f)) problems.push(`missing ${f}`);
      for (const f of have) if (!want.includes(f)) problems.push(`unexpected ${f}`);
      for (const f of want.filter((f) => have.includes(f))) {
        const [a, b] = await Promise.all([readFile(join(fresh, f)), readFile(join(committed, f))]);
        if (!a.equals(b)) problems.push(`stale ${f}`);
      }
      if (problems.length > 0) {
        throw new Error(`${GEN_DIR} is not what buf generate produces (run npm run proto:generate): ${problems.join(", ")}`);
      }
    },
  },
  {
    name: "version rule",
    check: async (root, scratch) => {
      const declared = await declaredVersion(root);
      if (!declared.history.some((e) => e.version === declared.text)) {
        throw new Error(`API_VERSION ${declared.text} has no entry in API_VERSION_HISTORY`);
      }
      // The history is how a gateway's operator learns what a version changed, and why.
      const seen = new Set<string>();
      for (const entry of declared.history) {
        if (seen.has(entry.version)) throw new Error(`API_VERSION_HISTORY has ${entry.version} twice: one entry per version`);
        seen.add(entry.version);
        if (typeof entry.changes !== "string" || entry.changes.trim() === "") {
          throw new Error(`the API_VERSION_HISTORY entry of ${entry.version} says nothing: write what changed and why`);
        }
      }
      const latest = releasedImages(root).at(-1);
      if (!latest) return;
      const order = declared.major - latest.version.major || declared.minor - latest.version.minor;
      if (order < 0) throw new Error(`API_VERSION ${declared.text} is older than the released ${latest.text}`);
      // The next version is the next minor, or the next major's .0: a gap reads as lost releases.
      const nextMinor = `${latest.version.major}.${latest.version.minor + 1}`;
      const nextMajor = `${latest.version.major + 1}.0`;
      if (order > 0 && declared.text !== nextMinor && declared.text !== nextMajor) {
        throw new Error(`API_VERSION ${declared.text} skips versions: after the released ${latest.text} comes ${nextMinor} (additive) or ${nextMajor} (breaking)`);
      }
      const image = join(scratch, "current.binpb");
      await buildImage(root, image);
      const [today, released] = await Promise.all([readFile(image), readFile(latest.path)]);
      if (today.equals(released)) return;
      if (order === 0) {
        throw new Error(
          `the contract changed since the released ${latest.text} but API_VERSION is still ${declared.text}: ` +
            `bump API_MINOR (additive) or API_MAJOR (breaking) and add a history entry`,
        );
      }
      if (declared.major > latest.version.major && !existsSync(join(root, "proto", "weir", "gateway", `v${declared.major}`))) {
        throw new Error(`API_VERSION ${declared.text} is a new major: it needs the proto package weir.gateway.v${declared.major}`);
      }
    },
  },
];

/** Runs every guard on the tree at `root`, printing `ok`/`FAIL` lines; resolves with the failures' count. */
export async function runGuards(root: string, print: (line: string) => void): Promise<number> {
  const scratch = await mkdtemp(join(tmpdir(), "weir-proto-check-"));
  let failed = 0;
  try {
    for (const guard of guards) {
      try {
        await guard.check(root, scratch);
        print(`ok   ${guard.name}\n`);
      } catch (err) {
        failed++;
        print(`FAIL ${guard.name}: ${(err as Error).message}\n`);
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return failed;
}
