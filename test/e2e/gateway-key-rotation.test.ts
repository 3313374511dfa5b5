// Gateway key rotation without a restart, as an operator does it: `weir gateway --key-file`
// runs against a real control plane; a second key is created through the admin API and written
// into the file; SIGHUP; the old key is deleted. The replica keeps serving (official SDKs as
// clients) and recording throughout. A file that cannot be used, or a key the control plane
// does not know, leaves the previous key in use and one log line saying why. No key is ever
// logged beyond its public prefix.
import assert from "node:assert/strict";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { eventually, listeningUrl, logLines as logLinesOf, reloadAndWait, runWeir, startStack, type Stack, type WeirProcess } from "./stack.js";

const KEPT = "gateway key file not reloaded; the previous key is still used";
const REPLACED = "gateway key replaced";
const UNKNOWN_KEY = `wgk_UNKNOWN${"x".repeat(32)}`;

let stack: Stack;
let dir: string;
let keyFile: string;
let gateway: WeirProcess;
let url: string;
let second: { id: string; key: string };

before(async () => {
  stack = await startStack({ replicas: 0 });
  dir = await mkdtemp(join(tmpdir(), "weir-gateway-key-rotation-"));
  keyFile = join(dir, "gateway.key");
  await writeFile(keyFile, `${stack.gatewayKey.key}\n`, { mode: 0o600 });
  gateway = runWeir(["gateway", "--listen", "127.0.0.1:0", "--log-level", "info", "--key-file", keyFile], {
    WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
    WEIR_OPENAI_BASE_URL: stack.emulator.openaiBaseUrl,
    WEIR_OPENAI_API_KEY: "sk-central-openai",
    WEIR_ANTHROPIC_BASE_URL: stack.emulator.anthropicBaseUrl,
    WEIR_ANTHROPIC_API_KEY: "sk-ant-central",
  });
  url = await listeningUrl(gateway, "gateway listening");
  await eventually("the authorization watch", async () => (logLines("authorization watch connected: caching authorizations").length === 1 ? true : undefined), 30_000);
});
after(async () => {
  if (gateway?.child.exitCode === null) gateway.child.kill("SIGTERM");
  await gateway?.exited;
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The gateway's `weir_gateway_reload_successful{files="gateway_key"}`: 1 while the file's key is in use. */
async function keyLoaded(): Promise<number | undefined> {
  const line = (await (await fetch(`${url}/metrics`)).text()).split("\n").find((l) => l.startsWith('weir_gateway_reload_successful{files="gateway_key"} '));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

/** The gateway's parsed log lines with this message. */
const logLines = (msg: string): any[] => logLinesOf(gateway, msg);
const reload = (msg: string, n: number): Promise<any> => reloadAndWait(gateway, msg, n);

/** A chat through the OpenAI SDK and a streamed message through Anthropic's, both recorded and ended. */
async function servedAndRecorded(): Promise<void> {
  const openai = new OpenAI({ baseURL: `${url}/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0 });
  const { response } = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "rotate" }] }).withResponse();
  const anthropic = new Anthropic({ baseURL: `${url}/anthropic`, apiKey: stack.user.apiKey, maxRetries: 0 });
  const streamed = await anthropic.messages.create({ model: "claude-sonnet-4-6", max_tokens: 16, stream: true, messages: [{ role: "user", content: "rotate" }] }).withResponse();
  const events: string[] = [];
  for await (const event of streamed.data) events.push(event.type);
  assert.equal(events.at(-1), "message_stop");
  const ids = [response.headers.get("x-weir-interception-id"), streamed.response.headers.get("x-weir-interception-id")];
  assert.ok(ids.every((id) => id !== null));
  for (const id of ids) {
    await eventually(`interception ${id}, ended`, async () => {
      const res = await stack.admin.request("GET", `/api/v2/ai-gateway/interceptions/${id}`);
      return res.status === 200 && res.body.ended_at !== null ? true : undefined;
    });
  }
}

describe("weir gateway reading its gateway key file again on SIGHUP", () => {
  it("serves and records with the key in the file at start-up", async () => {
    await servedAndRecorded();
    assert.equal(await keyLoaded(), 1);
  });

  it("keeps the previous key when the file cannot be used, saying why, and keeps serving", async () => {
    const refusals: [() => Promise<void>, string][] = [
      [() => writeFile(keyFile, "\n"), `the gateway key file ${keyFile} is empty`],
      [
        () => writeFile(keyFile, "sk-not-a-gateway-key\n"),
        'the gateway key given (20 characters) is not a gateway key: those are 43 characters, "wgk_" then letters and digits, as `weir keys create` prints them',
      ],
      [() => writeFile(keyFile, `${UNKNOWN_KEY}\n`), "control plane rejected gateway key wgk_UNKNOWN...: AI Gateway key invalid."],
      [() => unlink(keyFile), `read the gateway key file ${keyFile}: ENOENT`],
    ];
    for (const [n, [breakFile, reason]] of refusals.entries()) {
      await breakFile();
      const line = await reload(KEPT, n + 1);
      assert.equal(line.level, 50);
      assert.equal(line.err, reason);
    }
    assert.equal(logLines(REPLACED).length, 0);
    assert.equal(await keyLoaded(), 0, "an alert can see the rotation was not taken");
    assert.equal(gateway.child.exitCode, null);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    await servedAndRecorded();
  });

  it("moves to a new key on SIGHUP; the old key can then be deleted under it", async () => {
    const created = await stack.admin.request("POST", "/api/v2/ai-gateway/keys", { name: "e2e-rotated" });
    assert.equal(created.status, 201);
    second = { id: created.body.id, key: created.body.key };
    await writeFile(keyFile, `${second.key}\n`);
    const line = await reload(REPLACED, 1);
    assert.equal(line.previous_gateway_key_prefix, stack.gatewayKey.key.slice(0, 11));
    assert.equal(line.gateway_key_prefix, second.key.slice(0, 11));
    assert.equal(await keyLoaded(), 1);
    // The watch was reopened with the new key at once, not after losing the old one.
    await eventually("the watch reopened", async () => (logLines("authorization watch connected: caching authorizations").length === 2 ? true : undefined));

    assert.equal((await stack.admin.request("DELETE", `/api/v2/ai-gateway/keys/${stack.gatewayKey.id}`)).status, 204);
    await servedAndRecorded();
    assert.equal(gateway.child.exitCode, null);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.deepEqual(logLines("authorization watch lost: authorizing every request until it is back"), []);
    assert.equal(await stack.controlPlane.metrics.authorizationWatchers.get().then((m) => m.values[0]?.value), 1);
  });

  it("never logs more of a gateway key than its prefix, and stops cleanly", async () => {
    const out = gateway.output();
    for (const key of [stack.gatewayKey.key, second.key, UNKNOWN_KEY]) assert.ok(!out.includes(key.slice(11)), `${key.slice(0, 11)}… was logged`);
    gateway.child.kill("SIGTERM");
    assert.deepEqual(await gateway.exited, { code: 0, signal: null });
  });
});
