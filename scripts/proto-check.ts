// npm run proto:check — the contract guard rails (DESIGN §2), fully offline:
//   1. buf lint;
//   2. buf breaking against the latest released image in proto/versions/;
//   3. generated code in packages/proto/src/gen is what buf generate produces today;
//   4. the version rule: a contract that differs from the latest release needs a greater
//      version with a history entry; a new major needs its own proto package.
// Exits non-zero naming every failed guard. `--root DIR` checks another tree (tests use copies).
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { buf, buildImage, declaredVersion, releasedImages, rootFromArgs } from "./proto-tools.js";

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

const guards: Guard[] = [
  { name: "lint", check: async (root) => void (await buf(root, ["lint"])) },
  {
    name: "breaking",
    check: async (root) => {
      const latest = releasedImages(root).at(-1);
      if (!latest) return; // nothing released yet: nothing to break
      await buf(root, ["breaking", "--against", latest.path]);
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
      const latest = releasedImages(root).at(-1);
      if (!latest) return;
      const order = declared.major - latest.version.major || declared.minor - latest.version.minor;
      if (order < 0) throw new Error(`API_VERSION ${declared.text} is older than the released ${latest.text}`);
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

async function main(): Promise<void> {
  const root = rootFromArgs(process.argv);
  const scratch = await mkdtemp(join(tmpdir(), "weir-proto-check-"));
  let failed = 0;
  try {
    for (const guard of guards) {
      try {
        await guard.check(root, scratch);
        process.stdout.write(`ok   ${guard.name}\n`);
      } catch (err) {
        failed++;
        process.stdout.write(`FAIL ${guard.name}: ${(err as Error).message}\n`);
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
