// Provider key rotation without a restart: `weir gateway` and `weir control-plane
// --embedded-gateway` given --openai-api-key-file / --anthropic-api-key-file read those files
// again on SIGHUP, and the next requests (official SDKs as clients, the emulator as provider)
// go out with the new keys. Files that cannot be used — empty, missing, a key twice — leave
// every provider's previous keys in use and one log line naming the file. No key is ever
// logged. A daemon whose keys are all inline keeps Node's default for SIGHUP: it ends.
import assert from "node:assert/strict";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { eventually, listeningUrl, logLines, reloadAndWait, runWeir, startStack, type Stack, type WeirProcess } from "./stack.js";

const OPENAI_FIRST = "sk-rotate-openai-first-000001";
const OPENAI_SECOND = "sk-rotate-openai-second-00002";
const OPENAI_THIRD = "sk-rotate-openai-third-000003";
const ANTHROPIC_FIRST = "sk-ant-rotate-first-00000001";
const ANTHROPIC_SECOND = "sk-ant-rotate-second-0000002";
const ALL_KEYS = [OPENAI_FIRST, OPENAI_SECOND, OPENAI_THIRD, ANTHROPIC_FIRST, ANTHROPIC_SECOND];

const KEPT = "provider key files not reloaded; the previous keys are still used";
const REPLACED = "provider keys replaced";

let stack: Stack;
let dir: string;
let openaiFile: string;
let anthropicFile: string;

before(async () => {
  stack = await startStack({ replicas: 0 });
  dir = await mkdtemp(join(tmpdir(), "weir-key-rotation-"));
  openaiFile = join(dir, "openai.key");
  anthropicFile = join(dir, "anthropic.key");
});
after(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The credential the emulator was sent with the newest request to `path`. */
function lastCredential(path: string): string | undefined {
  const r = stack.emulator.requests.filter((q) => q.path.startsWith(path)).at(-1);
  return r?.headers["x-api-key"] ?? r?.headers.authorization?.replace(/^Bearer /, "");
}

describe("weir gateway reading its provider key files again on SIGHUP", () => {
  let gateway: WeirProcess;
  let url: string;

  before(async () => {
    await writeFile(openaiFile, `${OPENAI_FIRST}\n`, { mode: 0o600 });
    await writeFile(anthropicFile, `${ANTHROPIC_FIRST}\n`, { mode: 0o600 });
    gateway = runWeir(["gateway", "--listen", "127.0.0.1:0", "--log-level", "info", "--openai-api-key-file", openaiFile, "--anthropic-api-key-file", anthropicFile], {
      WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
      WEIR_GATEWAY_KEY: stack.gatewayKey.key,
      WEIR_OPENAI_BASE_URL: stack.emulator.openaiBaseUrl,
      WEIR_ANTHROPIC_BASE_URL: stack.emulator.anthropicBaseUrl,
    });
    url = await listeningUrl(gateway, "gateway listening");
    await eventually("the gateway to be ready", async () => ((await fetch(`${url}/readyz`)).ok ? true : undefined), 30_000);
  });
  after(async () => {
    if (gateway?.child.exitCode === null) gateway.child.kill("SIGTERM");
    await gateway?.exited;
  });

  /** One chat through the OpenAI SDK: the key the provider got, and the interception's id. */
  const openaiChat = async () => {
    const client = new OpenAI({ baseURL: `${url}/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "rotate" }] }).withResponse();
    return { key: lastCredential("/openai/"), id: response.headers.get("x-weir-interception-id") };
  };
  const anthropicMessage = async () => {
    const client = new Anthropic({ baseURL: `${url}/anthropic`, apiKey: stack.user.apiKey, maxRetries: 0 });
    await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 16, messages: [{ role: "user", content: "rotate" }] });
    return lastCredential("/anthropic/");
  };

  it("uses the keys in the files at start-up", async () => {
    assert.equal((await openaiChat()).key, OPENAI_FIRST);
    assert.equal(await anthropicMessage(), ANTHROPIC_FIRST);
  });

  it("sends the next requests with the rotated key after SIGHUP, and records it", async () => {
    await writeFile(openaiFile, `${OPENAI_SECOND}\n`);
    const line = await reloadAndWait(gateway, REPLACED, 1);
    assert.deepEqual(line.providers, { openai: { keys: 1, added: 1, removed: 1 }, anthropic: { keys: 1, added: 0, removed: 0 } });
    const { key, id } = await openaiChat();
    assert.equal(key, OPENAI_SECOND);
    assert.equal(await anthropicMessage(), ANTHROPIC_FIRST);
    const recorded = await eventually("the interception, ended", async () => {
      const res = await stack.admin.request("GET", `/api/v2/ai-gateway/interceptions/${id}`);
      return res.status === 200 && res.body.ended_at !== null ? res.body : undefined;
    });
    assert.equal(recorded.credential_hint, "sk-r...0002");
  });

  it("keeps every provider's keys when a file cannot be used, naming the file; the next good SIGHUP takes both", async () => {
    // Anthropic's file is fine, OpenAI's is not: neither changes.
    await writeFile(anthropicFile, `${ANTHROPIC_SECOND}\n`);
    const refusals: [() => Promise<void>, string][] = [
      [() => writeFile(openaiFile, "\n"), `the OpenAI key file ${openaiFile} is empty`],
      [() => writeFile(openaiFile, ",\n,"), `--openai-api-key-file ${openaiFile}: holds no key`],
      [() => writeFile(openaiFile, `${OPENAI_THIRD}\n${OPENAI_THIRD}\n`), `--openai-api-key-file ${openaiFile}: a key is given twice`],
      [() => unlink(openaiFile), `read the OpenAI key file ${openaiFile}: ENOENT`],
    ];
    for (const [n, [breakFile, reason]] of refusals.entries()) {
      await breakFile();
      const line = await reloadAndWait(gateway, KEPT, n + 1);
      assert.equal(line.level, 50);
      assert.equal(line.err, reason);
      assert.equal((await openaiChat()).key, OPENAI_SECOND);
      assert.equal(await anthropicMessage(), ANTHROPIC_FIRST);
    }
    assert.equal(logLines(gateway, REPLACED).length, 1);
    assert.match(await (await fetch(`${url}/metrics`)).text(), /^weir_gateway_reload_successful\{files="provider_keys"\} 0$/m);
    assert.equal(gateway.child.exitCode, null);

    await writeFile(openaiFile, `${OPENAI_THIRD}\n${OPENAI_SECOND}\n`);
    const line = await reloadAndWait(gateway, REPLACED, 2);
    assert.deepEqual(line.providers, { openai: { keys: 2, added: 1, removed: 0 }, anthropic: { keys: 1, added: 1, removed: 1 } });
    assert.equal((await openaiChat()).key, OPENAI_THIRD, "the file's first key is the primary");
    assert.equal(await anthropicMessage(), ANTHROPIC_SECOND);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^weir_gateway_provider_keys_usable\{provider="openai"\} 2$/m);
    assert.match(metrics, /^weir_gateway_reload_successful\{files="provider_keys"\} 1$/m);
  });

  it("never logs a provider key", () => {
    const out = gateway.output();
    assert.ok(out.includes(`"msg":"${REPLACED}"`));
    for (const key of ALL_KEYS) assert.ok(!out.includes(key), `${key.slice(0, 12)}… was logged`);
  });
});

describe("weir control-plane --embedded-gateway reading its provider key file again on SIGHUP", () => {
  it("rotates the embedded gateway's key without TLS files: SIGHUP no longer ends it", async () => {
    await writeFile(openaiFile, `${OPENAI_FIRST}\n`);
    const controlPlane = runWeir(["control-plane", "--embedded-gateway", "--listen", "127.0.0.1:0", "--log-level", "info", "--openai-api-key-file", openaiFile], {
      WEIR_DATABASE_URL: stack.database.url,
      WEIR_OPENAI_BASE_URL: stack.emulator.openaiBaseUrl,
    });
    try {
      const url = await listeningUrl(controlPlane, "control plane listening");
      await eventually("the embedded gateway", async () => (logLines(controlPlane, "embedded gateway serving").length > 0 ? true : undefined), 30_000);
      const client = new OpenAI({ baseURL: `${url}/api/v2/ai-gateway/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0 });
      const chat = async () => {
        await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "rotate" }] });
        return lastCredential("/openai/");
      };
      assert.equal(await chat(), OPENAI_FIRST);
      await writeFile(openaiFile, `${OPENAI_SECOND}\n`);
      const line = await reloadAndWait(controlPlane, REPLACED, 1);
      assert.deepEqual(line.providers, { openai: { keys: 1, added: 1, removed: 1 } });
      assert.equal(await chat(), OPENAI_SECOND);
      // The embedded gateway's reload is the process's: on the control plane's /metrics.
      assert.match(await (await fetch(`${url}/metrics`)).text(), /^weir_controlplane_reload_successful\{files="provider_keys"\} 1$/m);
      assert.equal(controlPlane.child.exitCode, null);
    } finally {
      controlPlane.child.kill("SIGTERM");
      assert.deepEqual(await controlPlane.exited, { code: 0, signal: null });
    }
  });
});

describe("a gateway whose provider keys are all inline", () => {
  it("keeps Node's default for SIGHUP: the process ends", async () => {
    const gateway = runWeir(["gateway", "--listen", "127.0.0.1:0", "--log-level", "info"], {
      WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
      WEIR_GATEWAY_KEY: stack.gatewayKey.key,
      WEIR_OPENAI_BASE_URL: stack.emulator.openaiBaseUrl,
      WEIR_OPENAI_API_KEY: OPENAI_FIRST,
    });
    await listeningUrl(gateway, "gateway listening");
    gateway.child.kill("SIGHUP");
    assert.deepEqual(await gateway.exited, { code: null, signal: "SIGHUP" });
  });
});
