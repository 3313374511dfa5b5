// Recorder: per RPC a valid record (the exact row, metadata JSON and token columns), an invalid
// id, an unknown interception (NotFound), an unreachable database (Unavailable); plus the interception's
// defaults, duplicates, ending once and thread lineage.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema, anyPack, timestampFromDate, type Any } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { Recorder } from "@weir/proto";
import pino from "pino";
import { ControlPlaneMetrics, createInProcessTransport } from "../index.js";
import { DATABASE_UNAVAILABLE_MESSAGE as DB_UNAVAILABLE } from "../rpc/connect-errors.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { unreachableDatabase } from "../testing/rpc-fixtures.js";

const logger = pino({ level: "silent" });
const metadata = (): Record<string, Any> => ({ key: anyPack(ValueSchema, fromJson(ValueSchema, "value")) });
const at = (iso: string) => new Date(iso);
const ts = (iso: string) => timestampFromDate(at(iso));

let t: TestDatabase;
let recorder: Client<typeof Recorder>;
let broken: Client<typeof Recorder>;
const metrics = new ControlPlaneMetrics({ collectDefaultMetrics: false });
before(async () => {
  t = await createTestDatabase();
  recorder = createClient(Recorder, createInProcessTransport({ db: t.db, logger, metrics }));
  const unreachable = unreachableDatabase();
  after(() => unreachable.destroy());
  broken = createClient(Recorder, createInProcessTransport({ db: unreachable, logger }));
});
after(async () => {
  await t?.drop();
});

async function code(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call;
    return { code: "OK", message: "" };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: Code[e.code]!, message: e.rawMessage };
  }
}

function interceptionRequest(over: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    initiatorId: randomUUID(),
    provider: "openai",
    model: "gpt-4o",
    metadata: metadata(),
    startedAt: ts("2026-11-22T10:00:00.123Z"),
    apiKeyId: "abcdefghij",
    client: "Codex",
    userAgent: "codex/1.0",
    providerName: "openai-main",
    credentialKind: "byok",
    credentialHint: "sk-...abcd",
    ...over,
  };
}

async function newInterception(over: Record<string, unknown> = {}): Promise<string> {
  const req = interceptionRequest(over);
  await recorder.recordInterception(req);
  return req.id;
}

const interceptionRow = (id: string) => t.db.selectFrom("aibridge_interceptions").selectAll().where("id", "=", id).executeTakeFirstOrThrow();

describe("RecordInterception", () => {
  // Property: every field lands in its column; user agent goes into metadata.
  it("writes the row", async () => {
    const id = randomUUID();
    const initiator = randomUUID();
    const firewall = randomUUID();
    await recorder.recordInterception(
      interceptionRequest({ id, initiatorId: initiator, clientSessionId: "sess-1", agentFirewallSessionId: firewall, agentFirewallSequenceNumber: 7 }),
    );
    const row = await interceptionRow(id);
    assert.deepEqual(row, {
      id,
      initiator_id: initiator,
      api_key_id: "abcdefghij",
      provider: "openai",
      provider_name: "openai-main",
      model: "gpt-4o",
      metadata: { key: "value", request_user_agent: "codex/1.0" },
      started_at: at("2026-11-22T10:00:00.123Z"),
      ended_at: null,
      client: "Codex",
      client_session_id: "sess-1",
      correlating_tool_call_id: null,
      thread_parent_id: null,
      thread_root_id: null,
      credential_kind: "byok",
      credential_hint: "sk-...abcd",
      agent_firewall_session_id: firewall,
      agent_firewall_sequence_number: 7,
      error_type: null,
      error_message: null,
    });
  });

  const defaults = [
    { name: "empty provider_name falls back to provider", over: { providerName: "" }, column: "provider_name", want: "openai" },
    { name: "empty credential_kind is centralized", over: { credentialKind: "" }, column: "credential_kind", want: "centralized" },
    { name: "unknown credential_kind is centralized", over: { credentialKind: "stolen" }, column: "credential_kind", want: "centralized" },
    { name: "no user agent leaves metadata alone", over: { userAgent: "" }, column: "metadata", want: { key: "value" } },
    { name: "a non-Value metadata entry is stored as its type URL", over: { metadata: { k: { $typeName: "google.protobuf.Any", typeUrl: "type.googleapis.com/x.Y", value: new Uint8Array() } }, userAgent: "" }, column: "metadata", want: { k: "type.googleapis.com/x.Y" } },
  ] as const;
  for (const c of defaults) {
    it(c.name, async () => {
      const id = await newInterception(c.over);
      const row = await interceptionRow(id);
      assert.deepEqual(row[c.column], c.want);
    });
  }

  const invalid = [
    { name: "invalid id", over: { id: "not-a-uuid" }, want: { code: "InvalidArgument", message: "invalid id: not a UUID" } },
    { name: "invalid initiator_id", over: { initiatorId: "x" }, want: { code: "InvalidArgument", message: "invalid initiator_id: not a UUID" } },
    { name: "empty api_key_id", over: { apiKeyId: "" }, want: { code: "InvalidArgument", message: "invalid api_key_id: required" } },
    { name: "missing started_at", over: { startedAt: undefined }, want: { code: "InvalidArgument", message: "invalid started_at: required" } },
    { name: "invalid agent_firewall_session_id", over: { agentFirewallSessionId: "nope" }, want: { code: "InvalidArgument", message: "invalid agent_firewall_session_id: not a UUID" } },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}`, async () => {
      const req = interceptionRequest(c.over);
      assert.deepEqual(await code(recorder.recordInterception(req)), c.want);
      assert.equal(await t.db.selectFrom("aibridge_interceptions").select("id").where("api_key_id", "=", req.apiKeyId).where("model", "=", "never").executeTakeFirst(), undefined);
    });
  }

  // Property: an id is recorded once; a second start is AlreadyExists and changes nothing.
  it("rejects a duplicate id with AlreadyExists", async () => {
    const id = await newInterception({ model: "first" });
    assert.equal((await code(recorder.recordInterception(interceptionRequest({ id, model: "second" })))).code, "AlreadyExists");
    assert.equal((await interceptionRow(id)).model, "first");
  });

  // Property: lineage follows the latest tool usage with the correlating call id by the same
  // user, root included; another user's request carrying that call id starts no branch of it.
  it("links a thread through correlating_tool_call_id, within one user's interceptions", async () => {
    const user = { initiatorId: randomUUID() };
    const root = await newInterception(user);
    await recorder.recordToolUsage({ interceptionId: root, msgId: "m1", tool: "ls", input: "{}", toolCallId: "call_root", metadata: {}, createdAt: ts("2026-11-22T10:00:01Z") });
    const child = await newInterception({ ...user, correlatingToolCallId: "call_root" });
    await recorder.recordToolUsage({ interceptionId: child, msgId: "m2", tool: "cat", input: "{}", toolCallId: "call_child", metadata: {}, createdAt: ts("2026-11-22T10:00:02Z") });
    const grandchild = await newInterception({ ...user, correlatingToolCallId: "call_child" });
    const unrelated = await newInterception({ ...user, correlatingToolCallId: "call_nobody_made" });
    const intruder = await newInterception({ initiatorId: randomUUID(), correlatingToolCallId: "call_child" });
    const rows = await Promise.all([root, child, grandchild, unrelated, intruder].map(interceptionRow));
    assert.deepEqual(
      rows.map((r) => [r.thread_parent_id, r.thread_root_id, r.correlating_tool_call_id]),
      [
        [null, null, null],
        [root, root, "call_root"],
        [child, root, "call_child"],
        [null, null, "call_nobody_made"],
        [null, null, "call_child"],
      ],
    );
  });

  it("maps an unreachable database to Unavailable", async () => {
    assert.deepEqual(await code(broken.recordInterception(interceptionRequest())), { code: "Unavailable", message: DB_UNAVAILABLE });
  });
});

describe("RecordInterceptionEnded", () => {
  // Property: the end is recorded once; a second end is OK and changes nothing.
  it("ends an interception once", async () => {
    const id = await newInterception({ credentialKind: "centralized", credentialHint: "sk-...0001" });
    await recorder.recordInterceptionEnded({ id, endedAt: ts("2026-11-22T10:00:05Z"), credentialHint: "sk-...0002", errorType: "upstream_error", errorMessage: "boom" });
    await recorder.recordInterceptionEnded({ id, endedAt: ts("2026-11-22T10:00:09Z"), credentialHint: "sk-...0003", errorType: "timeout", errorMessage: "late" });
    const row = await interceptionRow(id);
    assert.deepEqual(
      { ended_at: row.ended_at, hint: row.credential_hint, error_type: row.error_type, error_message: row.error_message },
      { ended_at: at("2026-11-22T10:00:05Z"), hint: "sk-...0002", error_type: "upstream_error", error_message: "boom" },
    );
  });

  // Property: the hint is overwritten only for centralized interceptions.
  it("keeps a BYOK interception's hint", async () => {
    const id = await newInterception({ credentialKind: "byok", credentialHint: "user-...9" });
    await recorder.recordInterceptionEnded({ id, endedAt: ts("2026-11-22T10:00:05Z"), credentialHint: "sk-...0002" });
    const row = await interceptionRow(id);
    assert.deepEqual([row.credential_hint, row.error_type], ["user-...9", null]);
  });

  const invalid = [
    { name: "invalid id", req: () => ({ id: "x", endedAt: ts("2026-11-22T10:00:05Z") }), want: { code: "InvalidArgument", message: "invalid id: not a UUID" } },
    { name: "missing ended_at", req: () => ({ id: randomUUID() }), want: { code: "InvalidArgument", message: "invalid ended_at: required" } },
    {
      name: "unknown error_type",
      req: () => ({ id: randomUUID(), endedAt: ts("2026-11-22T10:00:05Z"), errorType: "meltdown" }),
      want: { code: "InvalidArgument", message: "invalid error_type: must be one of upstream_error, upstream_disconnected, client_disconnected, timeout, internal" },
    },
    { name: "unknown interception", req: () => ({ id: randomUUID(), endedAt: ts("2026-11-22T10:00:05Z") }), want: { code: "NotFound", message: "" } },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}`, async () => {
      const got = await code(recorder.recordInterceptionEnded(c.req()));
      assert.equal(got.code, c.want.code);
      if (c.want.message) assert.equal(got.message, c.want.message);
    });
  }

  it("maps an unreachable database to Unavailable", async () => {
    assert.deepEqual(await code(broken.recordInterceptionEnded({ id: randomUUID(), endedAt: ts("2026-11-22T10:00:05Z") })), { code: "Unavailable", message: DB_UNAVAILABLE });
  });
});

// The four child records share their failure modes; one table per RPC for the valid row.
interface ChildCase {
  readonly rpc: string;
  readonly table: "aibridge_token_usages" | "aibridge_user_prompts" | "aibridge_tool_usages" | "aibridge_model_thoughts";
  readonly call: (client: Client<typeof Recorder>, interceptionId: string, over?: Record<string, unknown>) => Promise<unknown>;
  readonly want: Record<string, unknown>;
}

const childCases: ChildCase[] = [
  {
    rpc: "RecordTokenUsage",
    table: "aibridge_token_usages",
    call: (c, interceptionId, over = {}) =>
      c.recordTokenUsage({
        interceptionId,
        msgId: "chatcmpl-1",
        inputTokens: 9_007_199_254_740_993n, // beyond 2^53: int64 must survive as bigint
        outputTokens: 20n,
        cacheReadInputTokens: 30n,
        cacheWriteInputTokens: 40n,
        metadata: metadata(),
        createdAt: ts("2026-11-22T10:00:01.5Z"),
        ...over,
      }),
    want: {
      provider_response_id: "chatcmpl-1",
      input_tokens: "9007199254740993",
      output_tokens: "20",
      cache_read_input_tokens: "30",
      cache_write_input_tokens: "40",
      metadata: { key: "value" },
      created_at: at("2026-11-22T10:00:01.5Z"),
    },
  },
  {
    rpc: "RecordPromptUsage",
    table: "aibridge_user_prompts",
    call: (c, interceptionId, over = {}) => c.recordPromptUsage({ interceptionId, msgId: "msg_1", prompt: "hello", metadata: metadata(), createdAt: ts("2026-11-22T10:00:02Z"), ...over }),
    want: { provider_response_id: "msg_1", prompt: "hello", metadata: { key: "value" }, created_at: at("2026-11-22T10:00:02Z") },
  },
  {
    rpc: "RecordToolUsage",
    table: "aibridge_tool_usages",
    call: (c, interceptionId, over = {}) =>
      c.recordToolUsage({
        interceptionId,
        msgId: "resp_1",
        serverUrl: "https://mcp.example.com/mcp",
        tool: "search",
        input: '{"q":"x"}',
        injected: true,
        invocationError: "denied",
        metadata: metadata(),
        createdAt: ts("2026-11-22T10:00:03Z"),
        toolCallId: "call_1",
        itemId: "fc_1",
        ...over,
      }),
    want: {
      provider_response_id: "resp_1",
      provider_tool_call_id: "call_1",
      provider_item_id: "fc_1",
      server_url: "https://mcp.example.com/mcp",
      tool: "search",
      input: '{"q":"x"}',
      injected: true,
      invocation_error: "denied",
      metadata: { key: "value" },
      created_at: at("2026-11-22T10:00:03Z"),
    },
  },
  {
    rpc: "RecordModelThought",
    table: "aibridge_model_thoughts",
    call: (c, interceptionId, over = {}) => c.recordModelThought({ interceptionId, content: "thinking...", metadata: metadata(), createdAt: ts("2026-11-22T10:00:04Z"), ...over }),
    want: { content: "thinking...", metadata: { key: "value" }, created_at: at("2026-11-22T10:00:04Z") },
  },
];

for (const c of childCases) {
  describe(c.rpc, () => {
    it("writes the row", async () => {
      const id = await newInterception();
      await c.call(recorder, id);
      const rows = await t.db.selectFrom(c.table).selectAll().where("interception_id", "=", id).execute();
      assert.equal(rows.length, 1);
      const { id: rowId, interception_id, ...rest } = rows[0] as Record<string, unknown>;
      assert.match(String(rowId), /^[0-9a-f-]{36}$/);
      assert.equal(interception_id, id);
      assert.deepEqual(rest, c.want);
    });

    it("rejects an invalid interception_id", async () => {
      assert.deepEqual(await code(c.call(recorder, "42")), { code: "InvalidArgument", message: "invalid interception_id: not a UUID" });
    });

    it("rejects a missing created_at", async () => {
      assert.deepEqual(await code(c.call(recorder, randomUUID(), { createdAt: undefined })), { code: "InvalidArgument", message: "invalid created_at: required" });
    });

    // Property: a record of an interception that is not stored is refused; nothing is written.
    it("answers NotFound for an unknown interception", async () => {
      const id = randomUUID();
      assert.equal((await code(c.call(recorder, id))).code, "NotFound");
      assert.equal((await t.db.selectFrom(c.table).select("id").where("interception_id", "=", id).execute()).length, 0);
    });

    it("maps an unreachable database to Unavailable", async () => {
      assert.deepEqual(await code(c.call(broken, randomUUID())), { code: "Unavailable", message: DB_UNAVAILABLE });
    });
  });
}

describe("RecordTokenUsage counts", () => {
  it("rejects negative token counts", async () => {
    const id = await newInterception();
    assert.deepEqual(await code(childCases[0]!.call(recorder, id, { outputTokens: -1n })), { code: "InvalidArgument", message: "invalid output_tokens: negative" });
  });
});

describe("records_written_total", () => {
  // Property: successful writes are counted by type (failures are not).
  it("counts written records by type", async () => {
    const values = (await metrics.recordsWritten.get()).values;
    const count = (type: string) => values.find((v) => v.labels.type === type)?.value ?? 0;
    assert.ok(count("interception_start") > 0);
    assert.ok(count("token_usage") >= 1);
    assert.ok(count("interception_end") >= 2);
  });
});
