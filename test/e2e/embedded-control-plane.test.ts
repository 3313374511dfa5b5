// `weir control-plane --embedded-gateway` as a real process: the single-process deployment
// serves LLM requests made with a user API key on the control plane's own address, records
// them, keeps the admin API under /api/v2/ai-gateway/, and on SIGTERM stops the gateway first
// (an in-flight stream completes and its interception is recorded as ended) and exits 0; a
// client awaiting 100 Continue is told to go on only once its LLM request is authorized.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { bootstrapOwner } from "@weir/controlplane";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { DEFAULT_TEXT, createLlmEmulator, emulatorText, type LlmEmulator } from "@weir/llm-emulator";
import { eventually, freePort, runWeir, type WeirProcess } from "./stack.js";

const CENTRAL_OPENAI_KEY = "sk-central-openai-single-process";

let database: TestDatabase;
let emulator: LlmEmulator;
let weir: WeirProcess;
let url: string;
let ownerKey: string;
let user: { id: string; apiKey: string };

async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ownerKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** The user's interceptions as the admin API reports them, once `ready` accepts them. */
function interceptions(ready: (list: any[]) => boolean): Promise<any[]> {
  return eventually("recorded interceptions", async () => {
    const { interceptions: list } = await admin("GET", `/api/v2/ai-gateway/interceptions?initiator=${user.id}`);
    return ready(list) ? list : undefined;
  });
}

before(async () => {
  database = await createTestDatabase();
  ownerKey = (await bootstrapOwner(database.db, { username: "owner" })).key;
  emulator = createLlmEmulator();
  await emulator.start();
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  weir = runWeir(["control-plane", "--embedded-gateway", "--listen", `127.0.0.1:${port}`, "--log-level", "warn"], {
    WEIR_DATABASE_URL: database.url,
    WEIR_OPENAI_BASE_URL: emulator.openaiBaseUrl,
    WEIR_OPENAI_API_KEY: CENTRAL_OPENAI_KEY,
    WEIR_ANTHROPIC_BASE_URL: emulator.anthropicBaseUrl,
    WEIR_ANTHROPIC_API_KEY: "sk-ant-central-single-process",
  });
  await eventually(
    `weir control-plane --embedded-gateway to be ready`,
    async () => {
      if (weir.child.exitCode !== null) throw new Error(`exited with ${weir.child.exitCode}: ${weir.output()}`);
      return (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) || undefined;
    },
    30_000,
  );
  const created = await admin("POST", "/api/v2/users", { username: "alice", role: "member" });
  const key = await admin("POST", `/api/v2/users/${created.id}/keys`, { name: "single-process" });
  user = { id: created.id, apiKey: key.key };
});

after(async () => {
  if (weir?.child.exitCode === null) {
    weir.child.kill("SIGKILL");
    await weir.exited;
  }
  await emulator?.shutdown();
  await database?.drop();
});

describe("weir control-plane --embedded-gateway", () => {
  // Pins the single-process deployment: an LLM request with a user API key on the control
  // plane's address is served (centralized: the provider key is injected) and recorded.
  it("serves an LLM request made with a user API key and records it", async () => {
    const res = await fetch(`${url}/api/v2/ai-gateway/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello there" }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as any).choices[0].message.content, DEFAULT_TEXT);
    assert.equal((await emulator.waitForRequests(1))[0]!.headers.authorization, `Bearer ${CENTRAL_OPENAI_KEY}`);
    const [interception] = await interceptions((l) => l.length === 1 && l[0].ended_at !== null && l[0].prompts.length === 1);
    assert.equal(interception.provider, "openai");
    assert.equal(interception.initiator_id, user.id);
    assert.equal(interception.prompts[0].prompt, "Hello there");
  });

  // One process, one /metrics: the embedded gateway's series are there with the control plane's.
  it("serves the gateway's metrics on the control plane's /metrics", async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /^weir_gateway_interceptions_total\{provider="openai",model="gpt-4o-mini",status="completed",route="\/openai\/v1\/chat\/completions"\} 1$/m);
    assert.match(text, /^weir_gateway_requests_refused_total/m);
    assert.match(text, /^weir_controlplane_rpc_requests_total\{/m);
    // The process's own metrics once, under the control plane's name: not again as the gateway's.
    assert.match(text, /^weir_controlplane_process_cpu_seconds_total /m);
    assert.doesNotMatch(text, /^weir_gateway_process_|^weir_gateway_nodejs_/m);
    const helps = text.split("\n").filter((l) => l.startsWith("# HELP "));
    assert.equal(new Set(helps).size, helps.length, "no metric twice");
  });

  // Pins the mount's scope: the rest of /api/v2/ai-gateway/ is the admin API.
  it("keeps the admin API under /api/v2/ai-gateway/", async () => {
    const keys = await admin("GET", "/api/v2/ai-gateway/keys");
    assert.ok(Array.isArray(keys));
    assert.equal((await fetch(`${url}/api/v2/ai-gateway/keys`)).status, 401);
  });

  // Pins Expect: 100-continue on the control plane's address: the embedded gateway tells the
  // client to send its body only once the request is authorized (a bad key is refused before
  // any upload), while the admin API next to it says go on at once.
  it("tells a client awaiting 100 Continue to go on only once its LLM request is authorized", async () => {
    const body = JSON.stringify({ model: "gpt-4.1-mini", messages: [{ role: "user", content: "Asked first" }] });
    const ask = async (path: string, key: string) => {
      const socket = connect(Number(new URL(url).port), "127.0.0.1");
      await once(socket, "connect");
      let answer = "";
      const first = new Promise<string>((resolve) => socket.on("data", (d: Buffer) => ((answer += d.toString()), resolve(answer))));
      socket.write(`POST ${path} HTTP/1.1\r\nHost: weir\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`);
      return { first: await first, socket, all: () => answer };
    };
    const chat = "/api/v2/ai-gateway/openai/v1/chat/completions";

    const refused = await ask(chat, "not-a-weir-key");
    await once(refused.socket, "close");
    assert.match(refused.first, /^HTTP\/1\.1 40[13] /);
    assert.doesNotMatch(refused.all(), /100 Continue/);

    const served = await ask(chat, user.apiKey);
    assert.equal(served.first, "HTTP/1.1 100 Continue\r\n\r\n");
    served.socket.write(body);
    await eventually("the answer", async () => (served.all().includes(DEFAULT_TEXT) ? true : undefined));
    assert.match(served.all(), /\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    served.socket.destroy();

    const adminAsked = await ask("/api/v2/users", ownerKey);
    assert.equal(adminAsked.first, "HTTP/1.1 100 Continue\r\n\r\n");
    adminAsked.socket.destroy();
  });

  // Pins the shutdown order: SIGTERM mid-stream lets the gateway drain (the stream completes)
  // and flush (its interception is ended) before the control plane stops; the exit code is 0.
  it("on SIGTERM finishes the in-flight stream, records it, and exits 0", async () => {
    const client = new OpenAI({ apiKey: user.apiKey, baseURL: `${url}/api/v2/ai-gateway/openai/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create(
      { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "Stream slowly" }] },
      { headers: { "x-emulator-event-delay-ms": "100", "x-emulator-events": "8" } },
    );
    let text = "";
    let signalled = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (!signalled && text !== "") {
        signalled = true;
        weir.child.kill("SIGTERM");
      }
    }
    assert.equal(text, emulatorText(8));
    const { code, signal } = await weir.exited;
    assert.equal(signal, null);
    assert.equal(code, 0, weir.output());
    const rows = await database.db.selectFrom("aibridge_interceptions").selectAll().where("initiator_id", "=", user.id).where("model", "=", "gpt-4o").execute();
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0]!.ended_at, null, "the stream's interception was ended before the control plane stopped");
  });
});
