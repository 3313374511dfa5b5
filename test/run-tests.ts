// `npm test`: prepares one Postgres server and one migrated template database for the whole
// run (DATABASE_URL's server, or an embedded one), then runs every test file with node:test.
// Each test file clones its own database from the template. Extra arguments filter files by
// substring: `npm test -- gateway`.
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import {
  TEST_SERVER_URL_ENV,
  TEST_TEMPLATE_ENV,
  createTemplateDatabase,
  dropDatabase,
  startTestServer,
} from "@weir/controlplane/testing";

const root = join(import.meta.dirname, "..");

async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && entry.name.endsWith(".test.ts") && !path.includes("node_modules")) out.push(relative(root, path));
  }
  return out;
}

const packages = await readdir(join(root, "packages"));
const all = (
  await Promise.all([...packages.map((p) => testFiles(join(root, "packages", p, "src"))), testFiles(join(root, "test"))])
).flat();
const filters = process.argv.slice(2);
const files = all.filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  process.stderr.write(`no test files match ${filters.join(" ")}\n`);
  process.exit(1);
}

const server = await startTestServer();
const template = await createTemplateDatabase(server.url);
process.stdout.write(`test database: ${server.embedded ? "embedded postgres" : "DATABASE_URL"}, template ${template}, ${files.length} files\n`);

const concurrency = process.env.WEIR_TEST_CONCURRENCY ?? "2";
const child = spawn(process.execPath, ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...files], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, [TEST_SERVER_URL_ENV]: server.url, [TEST_TEMPLATE_ENV]: template },
});
const forward = (signal: NodeJS.Signals) => child.kill(signal);
process.on("SIGINT", forward);
process.on("SIGTERM", forward);
const code = await new Promise<number>((resolve) => child.on("exit", (c, s) => resolve(c ?? (s ? 1 : 0))));
await dropDatabase(server.url, template).catch(() => {});
await server.stop();
process.exit(code);
