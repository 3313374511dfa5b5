// `weir start` as a newcomer runs it: it comes up on a machine with nothing installed (embedded
// PostgreSQL, the emulator as upstream), every curl line it prints works as printed, it writes
// .weir/quickstart.env (0600), a second start reuses what the first created, and Ctrl-C stops
// everything with exit code 0. It announces the address its gateway reports bound, and fails
// rather than announce another process that holds the address it asked for.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { readEnvFile } from "../../packages/cli/src/admin-options.js";
import { eventually, freePort, processesNaming, runWeir, type WeirProcess } from "./stack.js";

const exec = promisify(execFile);
const dirs: string[] = [];
const running: WeirProcess[] = [];
after(async () => {
  // A failed assertion must not leave a `weir start` (and its gateway and database) behind.
  for (const p of running) if (p.child.exitCode === null) p.child.kill("SIGINT");
  await Promise.all(running.map((p) => p.exited));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function makeDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  await chmod(dir, 0o755); // as root, embedded PostgreSQL runs as `postgres` and must reach .weir/
  return dir;
}

function runStart(dir: string, gatewayListen: string, extraEnv: NodeJS.ProcessEnv = {}): WeirProcess {
  const env = { ...process.env };
  for (const name of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DATABASE_URL", "WEIR_DATABASE_URL"]) delete env[name];
  const proc = runWeir(["start", "--dir", join(dir, ".weir"), "--control-plane-listen", "127.0.0.1:0", "--gateway-listen", gatewayListen], {
    ...env,
    OPENAI_API_KEY: "",
    ANTHROPIC_API_KEY: "",
    ...extraEnv,
  });
  running.push(proc);
  return proc;
}

async function start(dir: string, extraEnv: NodeJS.ProcessEnv = {}, gatewayListen = "127.0.0.1:0"): Promise<{ proc: WeirProcess; banner: string }> {
  const proc = runStart(dir, gatewayListen, extraEnv);
  const banner = await eventually("the start banner", async () => {
    if (proc.child.exitCode !== null) throw new Error(`weir start exited ${proc.child.exitCode}: ${proc.output()}`);
    return proc.output().includes("Press Ctrl-C to stop.") ? proc.output() : undefined;
  }, 60_000);
  return { proc, banner };
}

async function stop(proc: WeirProcess): Promise<void> {
  // Ctrl-C under `npm start` delivers SIGINT twice: from the terminal and forwarded by npm.
  proc.child.kill("SIGINT");
  proc.child.kill("SIGINT");
  const exit = await proc.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, proc.output());
}

describe("weir start", () => {
  it("serves every printed curl line, writes quickstart.env, reuses its keys and stops on Ctrl-C", async () => {
    const dir = await makeDir("weir-start-");

    const first = await start(dir);
    const upstreamLines = (banner: string) => banner.split("\n").filter((l) => /^  (OpenAI|Anthropic): /.test(l));
    assert.deepEqual(upstreamLines(first.banner), [
      "  OpenAI:         LLM EMULATOR: canned answers, not a real model (set OPENAI_API_KEY for the real API)",
      "  Anthropic:      LLM EMULATOR: canned answers, not a real model (set ANTHROPIC_API_KEY for the real API)",
    ]);
    const curls = first.banner.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("curl -sS http"));
    assert.equal(curls.filter((l) => /\/(chat\/completions|responses|messages) /.test(l)).length, 3, first.banner);
    for (const line of curls.filter((l) => !l.includes("/interceptions"))) {
      const { stdout } = await exec("sh", ["-c", `${line} -o /dev/null -w '%{http_code}'`]);
      assert.equal(stdout, "200", line);
    }

    const envFile = join(dir, ".weir", "quickstart.env");
    assert.equal((await stat(envFile)).mode & 0o777, 0o600);
    const env = readEnvFile(envFile);
    assert.deepEqual(Object.keys(env).sort(), ["WEIR_ADMIN_TOKEN", "WEIR_API_KEY", "WEIR_CONTROL_PLANE_URL", "WEIR_GATEWAY_URL"]);
    assert.ok(first.banner.includes(env.WEIR_API_KEY!));
    // The recorded traffic line works with the admin token from the file, and shows the 3 calls.
    // Records are delivered asynchronously (batched): wait for all three to be ended.
    const recorded = await eventually("the three curl calls to be recorded", async () => {
      const res = await fetch(`${env.WEIR_CONTROL_PLANE_URL}/api/v2/ai-gateway/interceptions`, { headers: { authorization: `Bearer ${env.WEIR_ADMIN_TOKEN}` } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { interceptions: { provider: string; ended_at: string | null }[] };
      return body.interceptions.length === 3 && body.interceptions.every((i) => i.ended_at !== null) ? body.interceptions : undefined;
    });
    assert.deepEqual(recorded.map((i) => i.provider).sort(), ["anthropic", "openai", "openai"]);
    await stop(first.proc);

    // Created once, reused on the next start. With one provider's key, that provider is real and
    // the other still emulated, and the banner says which; the gateway's own provider variables
    // from a shared environment file do not reach its gateway (a key file next to the key start
    // sets was refused as a key given twice).
    const second = await start(dir, { OPENAI_API_KEY: "sk-test-not-called", WEIR_OPENAI_API_KEY_FILE: join(dir, "missing.key"), WEIR_ANTHROPIC_API_KEY_FILE: join(dir, "missing.key") });
    assert.deepEqual(upstreamLines(second.banner), [
      "  OpenAI:         the real OpenAI API (its key is given)",
      "  Anthropic:      LLM EMULATOR: canned answers, not a real model (set ANTHROPIC_API_KEY for the real API)",
    ]);
    assert.equal(readEnvFile(envFile).WEIR_API_KEY, env.WEIR_API_KEY);
    assert.equal(readEnvFile(envFile).WEIR_ADMIN_TOKEN, env.WEIR_ADMIN_TOKEN);
    await stop(second.proc);
    // Two clean stops so far: the gateway's exit was logged as a stop, never as an error.
    const exits = (await readFile(join(dir, ".weir", "weir.log"), "utf8"))
      .split("\n")
      .filter((l) => l.includes('"gateway process exited"'))
      .map((l) => (JSON.parse(l) as { level: number }).level);
    assert.deepEqual(exits, [30, 30]);

    // Killed outright, `weir start` does not leave its gateway behind holding the port.
    const third = await start(dir);
    const gatewayUrl = readEnvFile(envFile).WEIR_GATEWAY_URL!;
    assert.equal((await fetch(`${gatewayUrl}/healthz`)).status, 200);
    third.proc.child.kill("SIGKILL");
    await third.proc.exited;
    await eventually("the orphaned gateway to stop", async () => ((await fetch(`${gatewayUrl}/healthz`).then(() => true, () => false)) ? undefined : true), 15_000);
    // And the next start recovers the data directory the killed run left behind.
    const fourth = await start(dir);
    // The owner rotates the key `weir start` kept (a new one, then the old one deleted): the next
    // start issues itself another rather than fail on a 401, and keeps the demo user's key.
    const admin = (token: string, method: string, path: string, body?: unknown) =>
      fetch(`${readEnvFile(envFile).WEIR_CONTROL_PLANE_URL}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const keptToken = env.WEIR_ADMIN_TOKEN!;
    const owner = ((await (await admin(keptToken, "GET", "/api/v2/users")).json()) as { id: string; username: string }[]).find((u) => u.username === "admin")!;
    const rotated = ((await (await admin(keptToken, "POST", `/api/v2/users/${owner.id}/keys`, { name: "rotated" })).json()) as { key: string }).key;
    assert.equal((await admin(rotated, "DELETE", `/api/v2/users/${owner.id}/keys/${keptToken.split("-")[0]}`)).status, 204);
    await stop(fourth.proc);
    const fifth = await start(dir);
    assert.ok(fifth.banner.includes(`The owner API key kept in ${join(dir, ".weir", "state.json")} was refused (deleted or expired): issued admin a new one (WEIR_ADMIN_TOKEN below).`), fifth.banner);
    const reissued = readEnvFile(envFile);
    assert.notEqual(reissued.WEIR_ADMIN_TOKEN, keptToken);
    assert.equal((await admin(reissued.WEIR_ADMIN_TOKEN!, "GET", "/api/v2/users")).status, 200);
    assert.equal(reissued.WEIR_API_KEY, env.WEIR_API_KEY);
    const keys = (await (await admin(rotated, "GET", `/api/v2/users/${owner.id}/keys`)).json()) as { name: string }[];
    assert.deepEqual(keys.map((k) => k.name).sort(), ["rotated", "weir-start"]);
    assert.ok(!(await readFile(join(dir, ".weir", "weir.log"), "utf8")).includes(reissued.WEIR_ADMIN_TOKEN!.split("-")[1]!), "the new key's secret was logged");
    await stop(fifth.proc);
  });

  it("stops on Ctrl-C while its embedded PostgreSQL starts, exit 0, leaving nothing running", async () => {
    const dir = await makeDir("weir-start-interrupted-");
    const proc = runStart(dir, "127.0.0.1:0");
    await eventually("the embedded PostgreSQL starting", async () => {
      const log = await readFile(join(dir, ".weir", "weir.log"), "utf8").catch(() => "");
      return log.includes('"msg":"initialising embedded postgres"') ? true : undefined;
    }, 30_000);
    proc.child.kill("SIGINT");
    assert.deepEqual(await proc.exited, { code: 0, signal: null }, proc.output());
    assert.equal(proc.output(), "\nstopping...\nstopped\n");
    assert.deepEqual(await processesNaming(join(dir, ".weir", "postgres")), [], "no PostgreSQL left running on the data directory");
    // The next start finds the directory as a first start leaves it, and comes up.
    await stop((await start(dir)).proc);
  });

  it("refuses a gateway address another process holds, before starting anything", async () => {
    // Another Weir's gateway answers /readyz 200: it must not be announced as this one's.
    const other = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
    const { port } = other.address() as AddressInfo;
    const dir = await mkdtemp(join(tmpdir(), "weir-start-taken-"));
    dirs.push(dir);
    try {
      const proc = runWeir(["start", "--dir", join(dir, ".weir"), "--control-plane-listen", "127.0.0.1:0", "--gateway-listen", `127.0.0.1:${port}`]);
      running.push(proc);
      assert.deepEqual(await proc.exited, { code: 1, signal: null });
      assert.equal(proc.output(), `weir: --gateway-listen 127.0.0.1:${port}: another process listens there: stop it, or choose another port\n`);
      await assert.rejects(stat(join(dir, ".weir", "postgres")), { code: "ENOENT" });
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it("announces the address its gateway bound: a hostname and port 0 become the bound IP and port", async () => {
    const dir = await makeDir("weir-start-bound-");
    const { proc, banner } = await start(dir, {}, "localhost:0");
    // The gateway's log lines leave in blocks, at least every 100 ms.
    const listening = await eventually("the gateway's listening line", async () =>
      (await readFile(join(dir, ".weir", "gateway.log"), "utf8")).split("\n").find((l) => l.includes('"gateway listening"')),
    );
    const bound = (JSON.parse(listening) as { url: string }).url;
    // localhost resolves to an address; the gateway chose the port (port 0 reached it as 0).
    assert.match(bound, /^http:\/\/(127\.0\.0\.1|\[::1\]):[1-9][0-9]*$/);
    assert.ok(banner.includes(`\n  gateway:        ${bound}\n`), banner);
    assert.equal(readEnvFile(join(dir, ".weir", "quickstart.env")).WEIR_GATEWAY_URL, bound);
    assert.equal((await fetch(`${bound}/readyz`)).status, 200);
    await stop(proc);
  });

  it("fails, announcing nothing, when its gateway's address is taken after the early check", async () => {
    const dir = await makeDir("weir-start-race-");
    const port = await freePort();
    // Runs first in every node process of `weir start`; acts only in its gateway process, where it
    // takes the address after `weir start` found it free and before the gateway binds it, and
    // answers /readyz 200 there as another Weir's gateway would.
    const preload = join(dir, "take-gateway-address.mjs");
    await writeFile(
      preload,
      `import { createServer } from "node:http";
if (process.argv[2] === "gateway") {
  const listen = process.env.WEIR_GATEWAY_LISTEN;
  const i = listen.lastIndexOf(":");
  const thief = createServer((req, res) => res.end("ok"));
  await new Promise((resolve) => thief.listen(Number(listen.slice(i + 1)), listen.slice(0, i), resolve));
  thief.unref();
}
`,
    );
    const proc = runStart(dir, `127.0.0.1:${port}`, { NODE_OPTIONS: `--import ${pathToFileURL(preload).href}` });
    assert.deepEqual(await proc.exited, { code: 1, signal: null }, proc.output());
    assert.equal(proc.output(), "weir: the gateway process exited with code 1 before it listened (see its log)\n");
    // The gateway's log names the cause.
    assert.match(await readFile(join(dir, ".weir", "gateway.log"), "utf8"), new RegExp(`--listen 127\\.0\\.0\\.1:${port}: another process listens there`));

    // Nothing is left running: the embedded PostgreSQL stopped (it removes its pid file), the
    // control plane's address refuses connections, and the gateway's address is free again.
    await assert.rejects(stat(join(dir, ".weir", "postgres", "postmaster.pid")), { code: "ENOENT" });
    const listening = (await readFile(join(dir, ".weir", "weir.log"), "utf8")).split("\n").find((l) => l.includes('"control plane listening"'));
    assert.ok(listening, "the control plane started");
    await assert.rejects(fetch(`${(JSON.parse(listening) as { url: string }).url}/healthz`));
    const probe = createNetServer();
    await new Promise<void>((resolve, reject) => probe.once("error", reject).listen(port, "127.0.0.1", resolve));
    await new Promise((r) => probe.close(r));
  });
});
