// U+0000 in recorded user and model content, over the network to a real control plane and real
// Postgres: a NUL (valid JSON, accepted by providers) in a prompt, a tool name or input, a
// thought, an error message, metadata keys and values at any depth, ... is stored as U+FFFD, the
// record whole and the rest of its batch with it, nothing rejected; by RecordBatch (the binary
// fast path gateways use) and by the 1.0 per-record RPCs. Text that merely spells the JSON
// escape \u0000 is stored as it came.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { fromJson, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema, anyPack, timestampFromDate, type Any } from "@bufbuild/protobuf/wkt";
import { createClient, type Client } from "@connectrpc/connect";
import { Http2SessionManager, createConnectTransport } from "@connectrpc/connect-node";
import { Recorder, type RecordEnvelopeSchema } from "@weir/proto";
import pino from "pino";
import { createControlPlane, type ControlPlane } from "../index.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { gatewayHeaders, insertGatewayKey, type GatewayKeyFixture } from "../testing/rpc-fixtures.js";

type Envelope = MessageInitShape<typeof RecordEnvelopeSchema>;

const logger = pino({ level: "silent" });
const at = timestampFromDate(new Date("2026-12-02T10:00:00Z"));
const packed = (json: JsonValue): Any => anyPack(ValueSchema, fromJson(ValueSchema, json));

/** `text` with each "@" a NUL: as sent. */
const sent = (text: string) => text.replaceAll("@", "\u0000");
/** `text` with each "@" a U+FFFD: as stored. */
const stored = (text: string) => text.replaceAll("@", "\uFFFD");

/** Metadata with NULs in keys and values, a struct and a list (the reflective path) among them. */
const metadata = (): Record<string, Any> => ({
  [sent("k@ey")]: packed(sent("v@alue")),
  nested: packed({ [sent("a@")]: [sent("x@"), 1, { [sent("@")]: sent("@@") }] }),
  spelled: packed("\\u0000"), // the JSON escape as text: not a NUL
});
const storedMetadata = {
  [stored("k@ey")]: stored("v@alue"),
  nested: { [stored("a@")]: [stored("x@"), 1, { [stored("@")]: stored("@@") }] },
  spelled: "\\u0000",
};

/** Tool input as the gateway records it (JSON text): a raw NUL, and a NUL escaped in the JSON. */
const toolInput = sent('{"path":"/tmp/a@b","escaped":"x\\u0000y"}');
const storedToolInput = stored('{"path":"/tmp/a@b","escaped":"x\\u0000y"}');

let t: TestDatabase;
let cp: ControlPlane;
let gw: GatewayKeyFixture;
let session: Http2SessionManager | undefined;
let recorder: Client<typeof Recorder>;

before(async () => {
  t = await createTestDatabase();
  cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger });
  await cp.start();
  gw = await insertGatewayKey(t.db);
  session = new Http2SessionManager(cp.url);
  recorder = createClient(Recorder, createConnectTransport({ httpVersion: "2", baseUrl: cp.url, sessionManager: session }));
});
after(async () => {
  session?.abort();
  await cp?.shutdown();
  await t?.drop();
});

const options = () => ({ headers: gatewayHeaders(gw.key) });

/** Every stored row of the interception, with the columns that carry NULs. */
async function storedRows(id: string) {
  const db = t.db;
  return {
    interception: await db
      .selectFrom("aibridge_interceptions")
      .select(["model", "provider", "client", "client_session_id", "credential_hint", "metadata", "error_type", "error_message", "thread_parent_id"])
      .where("id", "=", id)
      .executeTakeFirstOrThrow(),
    prompts: await db.selectFrom("aibridge_user_prompts").select(["provider_response_id", "prompt", "metadata"]).where("interception_id", "=", id).orderBy("prompt").execute(),
    tokens: await db.selectFrom("aibridge_token_usages").select(["provider_response_id", "input_tokens", "metadata"]).where("interception_id", "=", id).execute(),
    tools: await db
      .selectFrom("aibridge_tool_usages")
      .select(["tool", "input", "provider_tool_call_id", "provider_item_id", "server_url", "invocation_error", "metadata"])
      .where("interception_id", "=", id)
      .execute(),
    thoughts: await db.selectFrom("aibridge_model_thoughts").select(["content", "metadata"]).where("interception_id", "=", id).execute(),
  };
}

/** What storedRows gives for the records below, their tool call id and thread parent given. */
const want = (toolCallId: string, threadParentId: string | null) => ({
  interception: {
    model: stored("gpt-4o@"),
    provider: stored("openai@"),
    client: stored("Codex@"),
    client_session_id: stored("sess@1"),
    credential_hint: stored("sk-...@end"),
    metadata: { ...storedMetadata, request_user_agent: stored("codex@/1.0") },
    error_type: "upstream_error",
    error_message: stored("502 from upstream: @"),
    thread_parent_id: threadParentId,
  },
  prompts: [
    { provider_response_id: stored("msg@1"), prompt: "a clean prompt", metadata: {} },
    { provider_response_id: stored("msg@1"), prompt: stored("ignore this@ prompt@"), metadata: storedMetadata },
  ],
  tokens: [{ provider_response_id: stored("msg@1"), input_tokens: "10", metadata: storedMetadata }],
  tools: [
    {
      tool: stored("read@file"),
      input: storedToolInput,
      provider_tool_call_id: stored(toolCallId),
      provider_item_id: stored("item@1"),
      server_url: stored("https://mcp.example/@"),
      invocation_error: stored("no such file: @"),
      metadata: storedMetadata,
    },
  ],
  thoughts: [{ content: stored("thinking@..."), metadata: storedMetadata }],
});

const interceptionRequest = (id: string, correlatingToolCallId?: string) => ({
  id,
  initiatorId: "00000000-0000-4000-8000-000000000001",
  apiKeyId: "abcdefghij",
  provider: sent("openai@"),
  model: sent("gpt-4o@"),
  metadata: metadata(),
  startedAt: at,
  client: sent("Codex@"),
  userAgent: sent("codex@/1.0"),
  clientSessionId: sent("sess@1"),
  credentialKind: "centralized",
  credentialHint: sent("sk-...@start"),
  ...(correlatingToolCallId !== undefined ? { correlatingToolCallId } : {}),
});
const promptRequest = (interceptionId: string, prompt: string, withMetadata = true) => ({
  interceptionId,
  msgId: sent("msg@1"),
  prompt,
  metadata: withMetadata ? metadata() : {},
  createdAt: at,
});
const tokenRequest = (interceptionId: string) => ({ interceptionId, msgId: sent("msg@1"), inputTokens: 10n, outputTokens: 5n, metadata: metadata(), createdAt: at });
const toolRequest = (interceptionId: string, toolCallId: string) => ({
  interceptionId,
  msgId: sent("msg@1"),
  serverUrl: sent("https://mcp.example/@"),
  tool: sent("read@file"),
  input: toolInput,
  injected: true,
  invocationError: sent("no such file: @"),
  metadata: metadata(),
  createdAt: at,
  toolCallId,
  itemId: sent("item@1"),
});
const thoughtRequest = (interceptionId: string) => ({ interceptionId, content: sent("thinking@..."), metadata: metadata(), createdAt: at });
const endRequest = (id: string) => ({ id, endedAt: at, credentialHint: sent("sk-...@end"), errorType: "upstream_error", errorMessage: sent("502 from upstream: @") });

describe("RecordBatch: NUL characters", () => {
  it("stores every record whole with U+FFFD for NUL, rejecting nothing", async () => {
    const [parent, child] = [randomUUID(), randomUUID()];
    const callId = `call@${randomUUID()}`;
    const envelope = (record: Envelope["record"]): Envelope => ({ id: randomUUID(), record });
    const lifecycle = (id: string, toolCallId: string, correlatingToolCallId?: string): Envelope[] => [
      { id, record: { case: "interception", value: interceptionRequest(id, correlatingToolCallId) } },
      envelope({ case: "promptUsage", value: promptRequest(id, sent("ignore this@ prompt@")) }),
      envelope({ case: "promptUsage", value: promptRequest(id, "a clean prompt", false) }),
      envelope({ case: "tokenUsage", value: tokenRequest(id) }),
      envelope({ case: "toolUsage", value: toolRequest(id, toolCallId) }),
      envelope({ case: "modelThought", value: thoughtRequest(id) }),
      envelope({ case: "interceptionEnded", value: endRequest(id) }),
    ];
    // The child's start follows the parent's tool call (with a NUL in its id) in the same batch.
    const res = await recorder.recordBatch({ records: [...lifecycle(parent, sent(callId)), ...lifecycle(child, sent("call@other"), sent(callId))] }, options());
    assert.deepEqual(res.rejected, []);
    assert.deepEqual(await storedRows(parent), want(callId, null));
    assert.deepEqual((await storedRows(child)).interception, want(callId, parent).interception);
  });
});

describe("1.0 per-record RPCs: NUL characters", () => {
  it("stores every record whole with U+FFFD for NUL", async () => {
    const [parent, child] = [randomUUID(), randomUUID()];
    const callId = `call@${randomUUID()}`;
    await recorder.recordInterception(interceptionRequest(parent), options());
    await recorder.recordPromptUsage(promptRequest(parent, sent("ignore this@ prompt@")), options());
    await recorder.recordPromptUsage(promptRequest(parent, "a clean prompt", false), options());
    await recorder.recordTokenUsage(tokenRequest(parent), options());
    await recorder.recordToolUsage(toolRequest(parent, sent(callId)), options());
    await recorder.recordModelThought(thoughtRequest(parent), options());
    await recorder.recordInterceptionEnded(endRequest(parent), options());
    await recorder.recordInterception(interceptionRequest(child, sent(callId)), options());
    await recorder.recordInterceptionEnded(endRequest(child), options());
    assert.deepEqual(await storedRows(parent), want(callId, null));
    assert.deepEqual((await storedRows(child)).interception, want(callId, parent).interception);
  });
});
