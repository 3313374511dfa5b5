// `weir gateway` serving HTTPS itself (--tls-cert-file/--tls-key-file, WEIR_GATEWAY_TLS_*), with a
// certificate from a private CA; the control plane stays cleartext. The official SDKs trusting
// that CA get their answers and the interceptions are recorded; /healthz and /readyz answer over
// HTTPS; a client that does not trust the CA, and cleartext HTTP to the port, fail at once; on
// SIGTERM a stream in flight over TLS finishes whole and the replica exits 0 (a connection still
// in its handshake does not hold the exit up); a bad pair of files ends start-up with one line.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { Agent, fetch as undiciFetch } from "undici";
import { DEFAULT_TEXT, emulatorText } from "@weir/llm-emulator";
import { eventually, recorded, runWeir, startStack, type Stack, type WeirProcess } from "./stack.js";
import { assertRefusedStart, makeTestCertificates, unusableTlsFiles, type TestCertificates } from "./tls-control-plane.js";

let stack: Stack;
let certs: TestCertificates;
let trusting: Agent;
let gateway: WeirProcess;
let url: string;

/** A `weir gateway` on a free port, wired to the stack like its replicas. */
function runGateway(args: string[], env: NodeJS.ProcessEnv = {}): WeirProcess {
  return runWeir(["gateway", "--listen", "127.0.0.1:0", "--log-level", "info", ...args], {
    WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
    WEIR_GATEWAY_KEY: stack.gatewayKey.key,
    WEIR_OPENAI_BASE_URL: stack.emulator.openaiBaseUrl,
    WEIR_OPENAI_API_KEY: "sk-central-openai",
    WEIR_ANTHROPIC_BASE_URL: stack.emulator.anthropicBaseUrl,
    WEIR_ANTHROPIC_API_KEY: "sk-ant-central",
    ...env,
  });
}

/** fetch for the SDKs, trusting the private CA. */
const trustingFetch = ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: trusting })) as unknown as typeof fetch;

before(async () => {
  certs = await makeTestCertificates({ privateCa: true, commonName: "weir-gateway" });
  trusting = new Agent({ connect: { ca: await readFile(certs.trustFile) } });
  stack = await startStack({ replicas: 0 });
  gateway = runGateway([], {
    WEIR_GATEWAY_TLS_CERT_FILE: certs.certFile,
    WEIR_GATEWAY_TLS_KEY_FILE: certs.keyFile,
    // The control plane's variables, in the same environment file: not the gateway's.
    WEIR_TLS_CERT_FILE: "/nonexistent/control-plane.crt",
    WEIR_TLS_KEY_FILE: "/nonexistent/control-plane.key",
    // Node's own minimum lowered: the gateway's stays TLS 1.2.
    NODE_OPTIONS: [process.env.NODE_OPTIONS, "--tls-min-v1.0"].filter(Boolean).join(" "),
  });
  url = await eventually("the gateway's address", async () => {
    if (gateway.child.exitCode !== null) throw new Error(`exited with ${gateway.child.exitCode}: ${gateway.output()}`);
    const line = gateway.output().split("\n").find((l) => l.includes('"gateway listening"'));
    return line === undefined ? undefined : (JSON.parse(line).url as string);
  }, 30_000);
  await eventually("the gateway to be ready", async () => ((await trustingFetch(`${url}/readyz`)).ok ? true : undefined), 30_000);
});
after(async () => {
  if (gateway?.child.exitCode === null) gateway.child.kill("SIGTERM");
  await gateway?.exited;
  await trusting?.close();
  await stack?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

const openai = () => new OpenAI({ baseURL: `${url}/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0, fetch: trustingFetch });

let seen = 0;
/** The next interception, once recorded in full. */
async function nextInterception(): Promise<any> {
  const want = ++seen;
  const list = await recorded(stack, (l) => l.length === want && l[0]?.ended_at !== null && l[0].token_usages.length === 1 && l[0].prompts.length === 1);
  return list[0];
}

function summary(i: any) {
  const { input_tokens, output_tokens, cache_read_input_tokens, cache_write_input_tokens } = i.token_usages[0];
  return {
    provider: i.provider,
    model: i.model,
    credential_kind: i.credential_kind,
    error_type: i.error_type,
    prompt: i.prompts[0].prompt,
    tokens: { input_tokens, output_tokens, cache_read_input_tokens, cache_write_input_tokens },
  };
}

const OPENAI_TOKENS = { input_tokens: 120, output_tokens: 35, cache_read_input_tokens: 80, cache_write_input_tokens: 0 };

/** A request with node:https or node:http, failing with the client's error. */
function request(get: typeof httpsGet | typeof httpGet, target: string, options: { ca?: Buffer } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    get(target, options, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", reject);
  });
}

describe("weir gateway serving TLS", () => {
  it("listens on an https:// URL", () => {
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("answers /healthz and /readyz over HTTPS", async () => {
    for (const [path, body] of [["/healthz", "ok\n"], ["/readyz", "ready\n"]] as const) {
      const res = await trustingFetch(`${url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), body, path);
    }
  });

  it("serves the OpenAI SDK a chat completion, recorded", async () => {
    const res = await openai().chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello over TLS" }] });
    assert.equal(res.choices[0]!.message.content, DEFAULT_TEXT);
    assert.deepEqual(summary(await nextInterception()), {
      provider: "openai",
      model: "gpt-4o-mini",
      credential_kind: "centralized",
      error_type: null,
      prompt: "Hello over TLS",
      tokens: OPENAI_TOKENS,
    });
  });

  it("streams the OpenAI SDK a chat completion, recorded", async () => {
    const stream = await openai().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Stream over TLS" }], stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    assert.equal(text, DEFAULT_TEXT);
    assert.deepEqual(summary(await nextInterception()), {
      provider: "openai",
      model: "gpt-4o",
      credential_kind: "centralized",
      error_type: null,
      prompt: "Stream over TLS",
      tokens: OPENAI_TOKENS,
    });
  });

  it("serves the Anthropic SDK a message, recorded", async () => {
    const client = new Anthropic({ baseURL: `${url}/anthropic`, apiKey: stack.user.apiKey, maxRetries: 0, fetch: trustingFetch });
    const res = await client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 256, messages: [{ role: "user", content: "Hello Claude over TLS" }] });
    assert.deepEqual(res.content, [{ type: "text", text: DEFAULT_TEXT }]);
    assert.deepEqual(summary(await nextInterception()), {
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      credential_kind: "centralized",
      error_type: null,
      prompt: "Hello Claude over TLS",
      tokens: { input_tokens: 120, output_tokens: 35, cache_read_input_tokens: 80, cache_write_input_tokens: 40 },
    });
  });

  it("fails a client that does not trust the certificate", async () => {
    await assert.rejects(request(httpsGet, `${url}/healthz`), (err: NodeJS.ErrnoException) => err.code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    // The same request, trusting the CA, goes through.
    assert.equal(await request(httpsGet, `${url}/healthz`, { ca: await readFile(certs.trustFile) }), 200);
  });

  it("negotiates HTTP/1.1 by ALPN and refuses TLS 1.1, whatever Node's own minimum", async () => {
    const handshake = (options: ConnectionOptions) =>
      new Promise<string | false | null>((resolve, reject) => {
        const socket = tlsConnect({ host: "127.0.0.1", port: Number(new URL(url).port), ca: [readFileSync(certs.trustFile)], ...options }, () => {
          resolve(socket.alpnProtocol);
          socket.end();
        });
        socket.on("error", reject);
      });
    assert.equal(await handshake({ ALPNProtocols: ["h2", "http/1.1"] }), "http/1.1");
    // The client's security level lowered too, or it would refuse TLS 1.1 itself.
    await assert.rejects(
      handshake({ minVersion: "TLSv1.1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" }),
      (err: NodeJS.ErrnoException) => err.code === "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
    );
  });

  // Bounded: a connection left hanging would only end at the TLS handshake timeout (10 s).
  it("drops a cleartext HTTP request at once", { timeout: 5_000 }, async () => {
    await assert.rejects(request(httpGet, `${url.replace("https://", "http://")}/healthz`), (err: NodeJS.ErrnoException) => err.code === "ECONNRESET");
    assert.equal((await trustingFetch(`${url}/healthz`)).status, 200);
  });

  it("cancels the upstream request when a client over TLS goes away mid-stream", async () => {
    const upstreamBefore = stack.emulator.requests.length;
    const client = new AbortController();
    const stream = await openai().chat.completions.create(
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "Abandoned over TLS" }], stream: true },
      { headers: { "x-emulator-event-delay-ms": "200", "x-emulator-events": "20" }, signal: client.signal },
    );
    const chunks = stream[Symbol.asyncIterator]();
    assert.equal((await chunks.next()).done, false);
    client.abort();
    await eventually("the upstream request aborted", async () => (stack.emulator.requests.length === upstreamBefore + 1 && stack.emulator.requests.at(-1)?.aborted ? true : undefined));
    const want = ++seen;
    const [ended] = await recorded(stack, (l) => l.length === want && l[0]?.ended_at !== null);
    assert.deepEqual({ prompt: ended.prompts[0]?.prompt, error_type: ended.error_type }, { prompt: "Abandoned over TLS", error_type: "client_disconnected" });
  });

  // Last: it stops the gateway. Bounded below the TLS handshake timeout (10 s): a connection
  // still in its handshake used to hold the exit up until it passed.
  it("lets a stream in flight over TLS finish on SIGTERM, then exits 0", { timeout: 9_000 }, async () => {
    const events = 12;
    const stream = await openai().chat.completions.create(
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "A slow stream over TLS" }], stream: true },
      { headers: { "x-emulator-event-delay-ms": "60", "x-emulator-events": String(events) } },
    );
    const chunks = stream[Symbol.asyncIterator]();
    const first = await chunks.next();
    assert.equal(first.done, false);
    // A client that connected and never began its handshake.
    const silent: Socket = connect({ host: "127.0.0.1", port: Number(new URL(url).port) });
    await new Promise((resolve) => silent.once("connect", resolve));
    const silentClosed = new Promise((resolve) => silent.once("close", resolve));
    silent.on("error", () => undefined);

    gateway.child.kill("SIGTERM");
    let text = first.value!.choices[0]?.delta.content ?? "";
    let finish: string | null | undefined;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      text += next.value.choices[0]?.delta.content ?? "";
      finish ??= next.value.choices[0]?.finish_reason;
    }
    assert.equal(text, emulatorText(events));
    assert.equal(finish, "stop");
    assert.deepEqual(await gateway.exited, { code: 0, signal: null }, gateway.output().slice(-3_000));
    await silentClosed;
    assert.deepEqual(summary(await nextInterception()), {
      provider: "openai",
      model: "gpt-4o-mini",
      credential_kind: "centralized",
      error_type: null,
      prompt: "A slow stream over TLS",
      tokens: OPENAI_TOKENS,
    });
  });
});

describe("weir gateway start-up with TLS files that cannot serve", () => {
  const together = "weir: --tls-cert-file and --tls-key-file must be given together";
  const cases = (): { name: string; args: string[]; env?: NodeJS.ProcessEnv; want: string }[] => [
    { name: "a certificate without a key", args: ["--tls-cert-file", certs.certFile], want: together },
    { name: "a key without a certificate (variable)", args: [], env: { WEIR_GATEWAY_TLS_KEY_FILE: certs.keyFile }, want: together },
    ...unusableTlsFiles(certs),
  ];
  // Started together, to keep the file quick; an unreachable control plane: the files are judged
  // before it is contacted (a gateway that started anyway would retry it forever, hence the bound).
  const runs = new Map<string, { proc: WeirProcess; want: string }>();
  before(() => {
    for (const c of cases()) runs.set(c.name, { proc: runGateway(c.args, { WEIR_CONTROL_PLANE_URL: "http://127.0.0.1:1", ...c.env }), want: c.want });
  });
  after(async () => {
    for (const { proc } of runs.values()) if (proc.child.exitCode === null) proc.child.kill("SIGKILL");
    await Promise.all([...runs.values()].map(({ proc }) => proc.exited));
  });
  it("stops with exit 1 and one line, for each", { timeout: 15_000 }, async (t) => {
    for (const [name, { proc, want }] of runs) await t.test(name, () => assertRefusedStart(proc, want));
  });
});
