// Embedded mode and delegated in-process calls, end to end on the single-process deployment
// (embedded-stack.ts: real ControlPlane on real Postgres, embedded Gateway over the in-process
// transport, LLM emulator upstream). Mirrors the reference's TestServeHTTP_DelegatedAPIKey,
// its _Integration and _BYOK_Integration variants and the in-memory transport tests
// (requires a key id, streams, cancel closes, concurrent requests, handler failure), plus the
// property the reference gets from context.Context and we get from socket identity: the
// delegation header means nothing when it arrives over a network.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { DELEGATED_API_KEY_ID_HEADER, DelegatedApiKeyIdRequiredError, INTERCEPTION_ID_HEADER, SseParser, type InProcessFetch } from "@weir/gateway";
import { gatewayErrorBody } from "@weir/gateway/testing";
import { DEFAULT_TEXT, emulatorText } from "@weir/llm-emulator";
import { CENTRAL_ANTHROPIC_KEY, CENTRAL_OPENAI_KEY, startEmbeddedStack, type EmbeddedStack, type TestUser } from "./embedded-stack.js";
import { eventually } from "./stack.js";

const GOVERNANCE_TOKEN = "x-ai-governance-token";
const CHAT = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Say hello" }] };
const CHAT_PATH = "/v1/chat/completions";

let stack: EmbeddedStack;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
/** Users whose per-user handler fails to build (onHandlerCreate throws). */
const failingUsers = new Set<string>();

before(async () => {
  stack = await startEmbeddedStack({
    allowByok: true,
    onHandlerCreate: (user) => {
      if (failingUsers.has(user.ownerId)) throw new Error("handler set-up exploded");
    },
  });
  alice = await stack.createUser("alice");
  bob = await stack.createUser("bob");
  carol = await stack.createUser("carol");
});
after(async () => {
  await stack?.stop();
});

interface Answer {
  readonly status: number;
  readonly body: any;
  readonly interceptionId: string | null;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, interceptionId: res.headers.get(INTERCEPTION_ID_HEADER) };
}

/** A chat completion through `fetchFn` at the provider path. */
async function chat(fetchFn: InProcessFetch | typeof fetch, url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return answer(await fetchFn(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(CHAT) }));
}

function governanceHeaders(headers: Record<string, string>): string[] {
  return Object.keys(headers).filter((h) => h.startsWith("x-ai-governance-"));
}

// Pins the delegated request path of ServeHTTP (reference TestServeHTTP_DelegatedAPIKey): the
// key id authorizes (IsAuthorized{key_id}, never key), credentials are stripped or forwarded
// by mode, and a refused id is a 403 with no upstream call.
describe("delegated in-process requests (TestServeHTTP_DelegatedAPIKey)", () => {
  const cases = [
    {
      name: "valid centralized: key_id used, key empty, caller's auth headers absent upstream, provider key injected",
      keyId: () => alice.apiKeyId,
      headers: { authorization: "Bearer sk-caller-placeholder", "x-api-key": "caller-x-api-key" } as Record<string, string>,
      wantStatus: 200,
      wantUpstream: { authorization: `Bearer ${CENTRAL_OPENAI_KEY}` } as Record<string, string>,
      wantAbsent: ["x-api-key"],
    },
    {
      name: "valid BYOK preserves the user's credentials and strips the governance token",
      keyId: () => alice.apiKeyId,
      headers: { [GOVERNANCE_TOKEN]: "ignored-on-delegated-path", authorization: "Bearer sk-user-byok-token" } as Record<string, string>,
      wantStatus: 200,
      wantUpstream: { authorization: "Bearer sk-user-byok-token" } as Record<string, string>,
      wantAbsent: [GOVERNANCE_TOKEN],
    },
    {
      name: "invalid: unknown key id",
      keyId: () => "nokey00000",
      headers: {} as Record<string, string>,
      wantStatus: 403,
    },
    {
      name: "invalid: malformed key id",
      keyId: () => "../../etc",
      headers: {} as Record<string, string>,
      wantStatus: 403,
    },
  ];
  for (const tc of cases) {
    it(tc.name, async () => {
      stack.reset();
      const res = await chat(stack.gateway.inProcessFetch("openai"), `http://gateway${CHAT_PATH}`, { [DELEGATED_API_KEY_ID_HEADER]: tc.keyId(), ...tc.headers });
      assert.equal(res.status, tc.wantStatus, JSON.stringify(res.body));
      assert.deepEqual(stack.authorizations(), [{ key: "", keyId: tc.keyId() }], "IsAuthorized must carry key_id only");
      if (tc.wantStatus !== 200) {
        assert.deepEqual(res.body, gatewayErrorBody("openai", 403, "unauthorized"));
        assert.equal(stack.emulator.requests.length, 0, "nothing may reach upstream");
        return;
      }
      const [upstream] = await stack.emulator.waitForRequests(1);
      assert.equal(upstream!.path, "/openai/v1/chat/completions");
      for (const [name, value] of Object.entries(tc.wantUpstream ?? {})) assert.equal(upstream!.headers[name], value, `${name} upstream`);
      for (const name of tc.wantAbsent ?? []) assert.equal(upstream!.headers[name], undefined, `${name} must not reach upstream`);
      assert.deepEqual(governanceHeaders(upstream!.headers), [], "no X-AI-Governance-* header reaches upstream");
      const interception = await stack.endedInterception(res.interceptionId!);
      assert.equal(interception.initiator_id, alice.id);
      assert.equal(interception.api_key_id, alice.apiKeyId);
    });
  }

  // Delegated requests still reject expired keys and deleted users (DESIGN §5).
  it("an expired key's id is refused with 403 and no upstream call", async () => {
    const dave = await stack.createUser("dave");
    await stack.database.db.updateTable("api_keys").set({ expires_at: new Date(Date.now() - 60_000) }).where("id", "=", dave.apiKeyId).execute();
    stack.reset();
    const res = await chat(stack.gateway.inProcessFetch("openai", { apiKeyId: dave.apiKeyId }), `http://gateway${CHAT_PATH}`);
    assert.equal(res.status, 403);
    assert.equal(stack.emulator.requests.length, 0);
  });
});

// Pins the transport boundary (reference TestInMemoryRoundTripper_RequiresDelegatedAPIKeyID):
// without a key id nothing is sent — zero RPCs, zero upstream requests — and the caller learns why.
describe("the in-process client requires a delegated API key id", () => {
  const cases: { name: string; keyId: () => string | undefined; wantError: boolean }[] = [
    { name: "missing delegated key id", keyId: () => undefined, wantError: true },
    { name: "empty delegated key id", keyId: () => "", wantError: true },
    { name: "blank delegated key id", keyId: () => "   ", wantError: true },
    { name: "valid delegated key id", keyId: () => alice.apiKeyId, wantError: false },
  ];
  const keyIdHeader = (keyId: string | undefined): Record<string, string> => (keyId === undefined ? {} : { [DELEGATED_API_KEY_ID_HEADER]: keyId });
  for (const tc of cases) {
    it(`fetch: ${tc.name}`, async () => {
      stack.reset();
      const call = chat(stack.gateway.inProcessFetch("openai"), `http://gateway${CHAT_PATH}`, keyIdHeader(tc.keyId()));
      if (!tc.wantError) {
        assert.equal((await call).status, 200);
        return;
      }
      await assert.rejects(call, (err: Error) => err instanceof DelegatedApiKeyIdRequiredError && /requires a delegated API key id/.test(err.message));
      assert.equal(stack.rpcs.length, 0, "no RPC for a refused request");
      assert.equal(stack.emulator.requests.length, 0, "no upstream request for a refused request");
    });
    it(`dispatcher: ${tc.name}`, async () => {
      stack.reset();
      const dispatcher = stack.gateway.inProcessDispatcher("openai");
      const headers = { "content-type": "application/json", ...keyIdHeader(tc.keyId()) };
      try {
        const call = dispatcher.request({ path: CHAT_PATH, method: "POST", headers, body: JSON.stringify(CHAT) });
        if (!tc.wantError) {
          const res = await call;
          assert.equal(res.statusCode, 200);
          await res.body.dump();
          return;
        }
        await assert.rejects(call, /in-process gateway request requires a delegated API key id/);
        assert.equal(stack.rpcs.length, 0);
        assert.equal(stack.emulator.requests.length, 0);
      } finally {
        await dispatcher.close();
      }
    });
  }

  it("a client created with an empty key id is refused at once", () => {
    assert.throws(() => stack.gateway.inProcessFetch("openai", { apiKeyId: "" }), DelegatedApiKeyIdRequiredError);
    assert.throws(() => stack.gateway.inProcessDispatcher("anthropic", { apiKeyId: " " }), DelegatedApiKeyIdRequiredError);
  });

  it("a request's own key id wins over the client's", async () => {
    const res = await chat(stack.gateway.inProcessFetch("openai", { apiKeyId: alice.apiKeyId }), `http://gateway${CHAT_PATH}`, { [DELEGATED_API_KEY_ID_HEADER]: bob.apiKeyId });
    assert.equal(res.status, 200);
    assert.equal((await stack.endedInterception(res.interceptionId!)).initiator_id, bob.id);
  });
});

// Pins _Integration / _BYOK_Integration with the official SDKs: the in-process fetch is a
// drop-in `fetch`, blocking and streaming, and what is recorded is the delegated user's.
describe("official SDKs through the in-process fetch", () => {
  it("OpenAI SDK, centralized: answer, and the interception recorded for the delegated user", async () => {
    stack.reset();
    const client = new OpenAI({ apiKey: "unused", baseURL: "http://gateway/v1", fetch: stack.gateway.inProcessFetch("openai", { apiKeyId: alice.apiKeyId }), maxRetries: 0 });
    const { data, response } = await client.chat.completions.create(CHAT).withResponse();
    assert.equal(data.choices[0]!.message.content, DEFAULT_TEXT);
    const interception = await stack.endedInterception(response.headers.get(INTERCEPTION_ID_HEADER)!);
    assert.equal(interception.initiator_id, alice.id);
    assert.equal(interception.api_key_id, alice.apiKeyId);
    assert.equal(interception.credential_kind, "centralized");
    assert.equal((await stack.emulator.waitForRequests(1))[0]!.headers.authorization, `Bearer ${CENTRAL_OPENAI_KEY}`);
  });

  it("Anthropic SDK, BYOK: the user's own key reaches upstream, the governance token does not", async () => {
    stack.reset();
    const client = new Anthropic({
      apiKey: "sk-ant-user-own-key",
      baseURL: "http://gateway",
      fetch: stack.gateway.inProcessFetch("anthropic"),
      defaultHeaders: { [DELEGATED_API_KEY_ID_HEADER]: bob.apiKeyId, [GOVERNANCE_TOKEN]: "ignored-on-delegated-path" },
      maxRetries: 0,
    });
    const { data, response } = await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hi" }] }).withResponse();
    assert.equal(data.content[0]!.type === "text" && data.content[0]!.text, DEFAULT_TEXT);
    const [upstream] = await stack.emulator.waitForRequests(1);
    // This SDK version sends its apiKey as Authorization: Bearer; either way it is the user's own.
    const sent = upstream!.headers["x-api-key"] ?? upstream!.headers.authorization?.replace(/^Bearer /, "");
    assert.equal(sent, "sk-ant-user-own-key");
    assert.ok(!JSON.stringify(upstream!.headers).includes(CENTRAL_ANTHROPIC_KEY), "the central key is not injected in BYOK mode");
    assert.deepEqual(governanceHeaders(upstream!.headers), []);
    assert.deepEqual(stack.authorizations(), [{ key: "", keyId: bob.apiKeyId }]);
    const interception = await stack.endedInterception(response.headers.get(INTERCEPTION_ID_HEADER)!);
    assert.equal(interception.initiator_id, bob.id);
    assert.equal(interception.credential_kind, "byok");
  });

  it("OpenAI SDK streaming: chunks arrive one by one, spread over the upstream's timing", async () => {
    const client = new OpenAI({ apiKey: "unused", baseURL: "http://gateway/v1", fetch: stack.gateway.inProcessFetch("openai", { apiKeyId: alice.apiKeyId }), maxRetries: 0 });
    const stream = await client.chat.completions.create({ ...CHAT, stream: true }, { headers: { "x-emulator-event-delay-ms": "150", "x-emulator-events": "4" } });
    const arrivals: number[] = [];
    let text = "";
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.content;
      if (delta) {
        arrivals.push(performance.now());
        text += delta;
      }
    }
    assert.equal(text, emulatorText(4));
    assert.equal(arrivals.length, 4);
    // Buffered delivery would bunch them together; forwarded event by event they span ~450 ms.
    // The bound leaves 300 ms for a busy machine to delay the first one.
    assert.ok(arrivals[3]! - arrivals[0]! >= 150, `deltas arrived within ${arrivals[3]! - arrivals[0]!} ms`);
  });

  it("Anthropic SDK streaming: text deltas arrive one by one", async () => {
    const client = new Anthropic({ apiKey: "unused", baseURL: "http://gateway", fetch: stack.gateway.inProcessFetch("anthropic", { apiKeyId: bob.apiKeyId }), maxRetries: 0 });
    const stream = await client.messages.create(
      { model: "claude-sonnet-4-6", max_tokens: 64, stream: true, messages: [{ role: "user", content: "hi" }] },
      { headers: { "x-emulator-event-delay-ms": "150", "x-emulator-events": "4" } },
    );
    const arrivals: number[] = [];
    let text = "";
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
        arrivals.push(performance.now());
        text += event.delta.text;
      }
    }
    assert.equal(text, emulatorText(4));
    assert.ok(arrivals[arrivals.length - 1]! - arrivals[0]! >= 300, "deltas must not be buffered");
  });
});

// Pins TestInMemoryRoundTripper_CancelCloses: aborting the caller's signal ends the stream,
// cancels the upstream request, and the interception is still ended.
describe("cancelling an in-process stream", () => {
  it("the emulator sees the request aborted and the interception ends", async () => {
    stack.reset();
    const abort = new AbortController();
    const res = await stack.gateway.inProcessFetch("openai", { apiKeyId: alice.apiKeyId })(`http://gateway${CHAT_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-emulator-event-delay-ms": "200", "x-emulator-events": "20" },
      body: JSON.stringify({ ...CHAT, stream: true }),
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    const interceptionId = res.headers.get(INTERCEPTION_ID_HEADER)!;
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(first.done, false);
    abort.abort();
    await assert.rejects(async () => {
      for (;;) if ((await reader.read()).done) break;
    });
    const upstream = await eventually("upstream request aborted", async () => (stack.emulator.requests[0]?.aborted ? stack.emulator.requests[0] : undefined));
    assert.equal(upstream.finished, false);
    const interception = await stack.endedInterception(interceptionId);
    assert.notEqual(interception.ended_at, null);
  });
});

// Pins TestInMemoryRoundTripper_ConcurrentRequests: overlapping requests for different users
// never mix — each interception is recorded with its own caller as initiator.
describe("concurrent in-process requests", () => {
  it("8 overlapping streams for 8 users are each recorded with the right initiator", async () => {
    const users = await Promise.all(Array.from({ length: 8 }, (_, i) => stack.createUser(`concurrent${i}`)));
    const fetchOpenai = stack.gateway.inProcessFetch("openai");
    const results = await Promise.all(
      users.map(async (user) => {
        const res = await fetchOpenai(`http://gateway${CHAT_PATH}`, {
          method: "POST",
          headers: { "content-type": "application/json", [DELEGATED_API_KEY_ID_HEADER]: user.apiKeyId, "x-emulator-event-delay-ms": "30" },
          body: JSON.stringify({ ...CHAT, stream: true, messages: [{ role: "user", content: `I am ${user.username}` }] }),
        });
        const parser = new SseParser();
        let text = "";
        for await (const chunk of res.body!) {
          for (const event of parser.push(Buffer.from(chunk))) {
            if (event.data !== undefined && event.data !== "[DONE]") text += JSON.parse(event.data).choices?.[0]?.delta?.content ?? "";
          }
        }
        return { user, status: res.status, text, interceptionId: res.headers.get(INTERCEPTION_ID_HEADER)! };
      }),
    );
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.text, DEFAULT_TEXT);
      const interception = await stack.endedInterception(r.interceptionId);
      assert.equal(interception.initiator_id, r.user.id, `interception of ${r.user.username}`);
      assert.equal(interception.api_key_id, r.user.apiKeyId);
      const prompt = await stack.database.db.selectFrom("aibridge_user_prompts").select("prompt").where("interception_id", "=", r.interceptionId).executeTakeFirst();
      assert.equal(prompt?.prompt, `I am ${r.user.username}`);
    }
    assert.equal(new Set(results.map((r) => r.interceptionId)).size, 8);
  });
});

// Pins TestInMemoryRoundTripper_HandlerPanic at the gateway level: a handler that fails is an
// error for its own caller only; a concurrent stream of another user completes, and later
// requests work.
describe("a failing handler", () => {
  it("fails only its caller's request", async () => {
    failingUsers.add(carol.id);
    try {
      const fetchOpenai = stack.gateway.inProcessFetch("openai");
      const slow = fetchOpenai(`http://gateway${CHAT_PATH}`, {
        method: "POST",
        headers: { "content-type": "application/json", [DELEGATED_API_KEY_ID_HEADER]: bob.apiKeyId, "x-emulator-event-delay-ms": "100" },
        body: JSON.stringify({ ...CHAT, stream: true }),
      }).then((res) => res.text());
      const failed = await chat(fetchOpenai, `http://gateway${CHAT_PATH}`, { [DELEGATED_API_KEY_ID_HEADER]: carol.apiKeyId });
      assert.equal(failed.status, 500);
      assert.deepEqual(failed.body, gatewayErrorBody("openai", 500, "failed to acquire request handler"));
      assert.match(await slow, /Hello/);
      assert.equal((await chat(fetchOpenai, `http://gateway${CHAT_PATH}`, { [DELEGATED_API_KEY_ID_HEADER]: bob.apiKeyId })).status, 200);
    } finally {
      failingUsers.delete(carol.id);
    }
  });
});

/** One request over HTTP/2 with prior knowledge (h2c) to the control plane's address. */
async function h2Request(url: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string; chunks: number }> {
  const session = http2.connect(url);
  try {
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/json", ...headers });
    stream.end(body);
    const status = await new Promise<number>((resolve, reject) => {
      stream.once("response", (h) => resolve(Number(h[":status"])));
      stream.once("error", reject);
    });
    let text = "";
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += (chunk as Buffer).toString("utf8");
    }
    return { status, body: text, chunks };
  } finally {
    session.close();
  }
}

// Pins the non-spoofable channel: the delegation header sent over the network to the embedded
// gateway's address (HTTP/1.1 or HTTP/2) is removed and ignored, never authorizes as that key
// id, and never reaches upstream.
describe("the delegation header over the network", () => {
  const llmUrl = () => `${stack.controlPlane.url}/api/v2/ai-gateway/openai${CHAT_PATH}`;

  it("HTTP/1.1 with no credential: 400, no IsAuthorized, no upstream call", async () => {
    stack.reset();
    const res = await chat(fetch, llmUrl(), { [DELEGATED_API_KEY_ID_HEADER]: alice.apiKeyId });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, gatewayErrorBody("openai", 400, "no authentication key provided"));
    assert.deepEqual(stack.authorizations(), []);
    assert.equal(stack.emulator.requests.length, 0);
  });

  it("HTTP/1.1 with a bad key: 403 — authorized by the key, never by the key id", async () => {
    stack.reset();
    const res = await chat(fetch, llmUrl(), { [DELEGATED_API_KEY_ID_HEADER]: alice.apiKeyId, authorization: "Bearer not-a-real-key" });
    assert.equal(res.status, 403);
    assert.deepEqual(stack.authorizations(), [{ key: "not-a-real-key", keyId: "" }]);
    assert.equal(stack.emulator.requests.length, 0);
  });

  it("HTTP/1.1 with bob's key and alice's key id: served and recorded as bob; the header is not forwarded", async () => {
    stack.reset();
    const res = await chat(fetch, llmUrl(), { [DELEGATED_API_KEY_ID_HEADER]: alice.apiKeyId, authorization: `Bearer ${bob.apiKey}` });
    assert.equal(res.status, 200);
    assert.deepEqual(stack.authorizations(), [{ key: bob.apiKey, keyId: "" }]);
    const [upstream] = await stack.emulator.waitForRequests(1);
    assert.deepEqual(governanceHeaders(upstream!.headers), []);
    assert.equal((await stack.endedInterception(res.interceptionId!)).initiator_id, bob.id);
  });

  it("HTTP/2 (h2c) with no credential: 400, no IsAuthorized, no upstream call", async () => {
    stack.reset();
    const res = await h2Request(stack.controlPlane.url, `/api/v2/ai-gateway/openai${CHAT_PATH}`, { [DELEGATED_API_KEY_ID_HEADER]: alice.apiKeyId }, JSON.stringify(CHAT));
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.body), gatewayErrorBody("openai", 400, "no authentication key provided"));
    assert.deepEqual(stack.authorizations(), []);
    assert.equal(stack.emulator.requests.length, 0);
  });

  it("HTTP/2 (h2c) with a user key streams through the mount", async () => {
    stack.reset();
    const res = await h2Request(
      stack.controlPlane.url,
      `/api/v2/ai-gateway/openai${CHAT_PATH}`,
      { authorization: `Bearer ${alice.apiKey}`, [DELEGATED_API_KEY_ID_HEADER]: bob.apiKeyId, "x-emulator-event-delay-ms": "50" },
      JSON.stringify({ ...CHAT, stream: true }),
    );
    assert.equal(res.status, 200);
    assert.match(res.body, /data: \[DONE\]/);
    assert.ok(res.chunks > 1, "streamed in several chunks");
    assert.deepEqual(stack.authorizations(), [{ key: alice.apiKey, keyId: "" }]);
    assert.deepEqual(governanceHeaders((await stack.emulator.waitForRequests(1))[0]!.headers), []);
  });
});

// Pins the mount's scope: only the provider prefixes go to the gateway; the rest of
// /api/v2/ai-gateway/ is still the admin API.
describe("the control plane's address with an embedded gateway", () => {
  it("serves the admin API next to the LLM routes", async () => {
    const keys = await fetch(`${stack.controlPlane.url}/api/v2/ai-gateway/keys`);
    assert.equal(keys.status, 401);
    const anthropic = await fetch(`${stack.controlPlane.url}/api/v2/ai-gateway/anthropic/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": carol.apiKey, "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(anthropic.status, 200);
    assert.equal(((await anthropic.json()) as any).content[0].text, DEFAULT_TEXT);
    const unknown = await fetch(`${stack.controlPlane.url}/api/v2/ai-gateway/openai/v1/embeddings`, { method: "POST", headers: { authorization: `Bearer ${carol.apiKey}` } });
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /route not supported: POST/);
  });
});

describe("gateway key rotation in the embedded gateway", () => {
  it("is refused: its calls never leave the process, so it has no gateway key", async () => {
    await assert.rejects(stack.gateway.replaceGatewayKey(`wgk_${"a".repeat(39)}`), {
      name: "GatewayKeyNotReplacedError",
      message: "an embedded gateway calls its control plane in-process: it has no gateway key",
    });
  });
});
