// Read API for recorded interceptions: newest first on (started_at, id) with exact microsecond
// cursors (ties and sub-millisecond gaps cross page boundaries without gaps or repeats),
// filters, in-flight rows, children loaded with one query per child table, and 400s naming the
// bad parameter.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database } from "../db/schema.js";
import { call, startAdminHarness, type AdminHarness } from "./admin-test-harness.js";

const LIST = "/api/v2/ai-gateway/interceptions";

let h: AdminHarness;
let initiatorA: string;
const initiatorB = randomUUID();

interface Seeded {
  id: string;
  /** Microseconds since the epoch, for ordering. */
  micros: bigint;
  initiator: string;
  provider: string;
  model: string;
  client: string;
  ended: boolean;
}
const seeded: Seeded[] = [];
let withChildren: string;

/** Newest first, as the API must order: started_at DESC, id DESC. */
const newestFirst = (rows: Seeded[]) =>
  [...rows].sort((a, b) => (a.micros !== b.micros ? (a.micros > b.micros ? -1 : 1) : a.id > b.id ? -1 : a.id < b.id ? 1 : 0));

const BASE_MICROS = BigInt(Date.parse("2026-04-01T00:00:00.000Z")) * 1000n;
const isoMicros = (micros: bigint) => {
  const ms = micros / 1000n;
  const frac = (micros % 1_000_000n).toString().padStart(6, "0");
  return new Date(Number(ms)).toISOString().slice(0, 19) + "." + frac + "Z";
};

before(async () => {
  h = await startAdminHarness();
  initiatorA = h.member.id;
  // 30 interceptions: steps of one second, except a tie of three (ids break it) and three rows
  // one microsecond apart (identical to the millisecond); the 10-row page boundaries fall inside both.
  const offsets: bigint[] = [];
  for (let i = 0; i < 30; i++) offsets.push(BigInt(i) * 1_000_000n);
  offsets[19] = offsets[20] = offsets[21] = 20_000_000n; // tie across the 10|11 boundary (newest first: rows 9..11)
  offsets[9] = 10_000_001n;
  offsets[10] = 10_000_002n;
  offsets[11] = 10_000_003n; // µs apart across the 20|21 boundary
  for (const [i, off] of offsets.entries()) {
    const s: Seeded = {
      id: randomUUID(),
      micros: BASE_MICROS + off,
      initiator: i % 3 === 0 ? initiatorB : initiatorA,
      provider: i % 2 === 0 ? "openai" : "anthropic",
      model: i % 2 === 0 ? "gpt-4o" : "claude-sonnet",
      client: i % 5 === 0 ? "cursor" : "claude-code",
      ended: i !== 29, // the newest is still in flight
    };
    seeded.push(s);
    await h.t.db
      .insertInto("aibridge_interceptions")
      .values({
        id: s.id,
        initiator_id: s.initiator,
        api_key_id: "abcdefghij",
        provider: s.provider,
        provider_name: s.provider,
        model: s.model,
        metadata: JSON.stringify({ n: i }),
        started_at: sql<Date>`${isoMicros(s.micros)}::timestamptz`,
        client: s.client,
        credential_kind: "centralized",
        credential_hint: "",
      })
      .execute();
    if (s.ended) await h.t.db.updateTable("aibridge_interceptions").set({ ended_at: new Date(Number(s.micros / 1000n) + 500) }).where("id", "=", s.id).execute();
  }
  withChildren = seeded[28]!.id;
  const at = (s: number) => new Date(Number(BASE_MICROS / 1000n) + 28_000 + s);
  await h.t.db
    .insertInto("aibridge_user_prompts")
    .values([
      { interception_id: withChildren, provider_response_id: "resp-1", prompt: "hello", metadata: "{}", created_at: at(1) },
      { interception_id: withChildren, provider_response_id: "resp-2", prompt: "again", metadata: '{"k":"v"}', created_at: at(2) },
    ])
    .execute();
  await h.t.db
    .insertInto("aibridge_token_usages")
    .values({
      interception_id: withChildren,
      provider_response_id: "resp-1",
      input_tokens: 1200,
      output_tokens: 340,
      cache_read_input_tokens: 5_000_000_000,
      cache_write_input_tokens: 7,
      metadata: "{}",
      created_at: at(3),
    })
    .execute();
  await h.t.db
    .insertInto("aibridge_tool_usages")
    .values({
      interception_id: withChildren,
      provider_response_id: "resp-1",
      provider_tool_call_id: "call-1",
      provider_item_id: "item-1",
      server_url: "https://mcp.example",
      tool: "read_file",
      input: '{"path":"/a"}',
      injected: true,
      invocation_error: null,
      metadata: "{}",
      created_at: at(4),
    })
    .execute();
  await h.t.db.insertInto("aibridge_model_thoughts").values({ interception_id: withChildren, content: "thinking", metadata: "{}", created_at: at(5) }).execute();
});
after(async () => {
  await h?.close();
});

async function pages(query: string, limit: number) {
  const seen: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 20; i++) {
    const res = await h.call("GET", `${LIST}?limit=${limit}${query}${cursor ? `&after=${cursor}` : ""}`);
    assert.equal(res.status, 200, res.text);
    seen.push(...res.json.interceptions.map((x: { id: string }) => x.id));
    sizes.push(res.json.interceptions.length);
    cursor = res.json.next_cursor;
    if (cursor === undefined) return { seen, sizes };
  }
  throw new Error("pagination does not end");
}

describe("list", () => {
  it("returns everything newest first, including in-flight interceptions", async () => {
    const res = await h.call("GET", `${LIST}?limit=100`);
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.json.interceptions.map((x: { id: string }) => x.id),
      newestFirst(seeded).map((s) => s.id),
    );
    assert.ok(!("next_cursor" in res.json));
    // started_at to the microsecond: the three rows one microsecond apart read as they sort.
    assert.deepEqual(
      res.json.interceptions.map((x: { started_at: string }) => x.started_at),
      newestFirst(seeded).map((s) => isoMicros(s.micros)),
    );
    assert.equal(res.json.interceptions[0].ended_at, null);
    assert.equal(res.json.interceptions[0].id, seeded[29]!.id);
  });
  it("defaults to 25 per page", async () => {
    const res = await h.call("GET", LIST);
    assert.equal(res.json.interceptions.length, 25);
    assert.equal(typeof res.json.next_cursor, "string");
  });
  it("pages through 3 pages of 10 with no duplicates or gaps across ties and microsecond steps", async () => {
    const { seen, sizes } = await pages("", 10);
    assert.deepEqual(sizes, [10, 10, 10]);
    assert.deepEqual(seen, newestFirst(seeded).map((s) => s.id));
  });
  const filters = [
    { name: "initiator", query: () => `&initiator=${initiatorB}`, keep: (s: Seeded) => s.initiator === initiatorB },
    { name: "initiator in upper case", query: () => `&initiator=${initiatorB.toUpperCase()}`, keep: (s: Seeded) => s.initiator === initiatorB },
    { name: "provider", query: () => "&provider=anthropic", keep: (s: Seeded) => s.provider === "anthropic" },
    { name: "model", query: () => "&model=gpt-4o", keep: (s: Seeded) => s.model === "gpt-4o" },
    { name: "client", query: () => "&client=cursor", keep: (s: Seeded) => s.client === "cursor" },
    {
      name: "started_after (inclusive) and started_before (exclusive)",
      query: () => `&started_after=${encodeURIComponent(isoMicros(BASE_MICROS + 10_000_002n))}&started_before=2026-04-01T02:00:20%2B02:00`,
      keep: (s: Seeded) => s.micros >= BASE_MICROS + 10_000_002n && s.micros < BASE_MICROS + 20_000_000n,
    },
    {
      // 7 to 9 digits round up to the microsecond (PostgreSQL rounded them to the nearest): the
      // row at .000001 s is before an inclusive lower bound of .0000011 s, and before an
      // exclusive upper bound of the same.
      name: "started_after and started_before finer than a microsecond",
      query: () => `&started_after=${encodeURIComponent(isoMicros(BASE_MICROS + 10_000_001n).replace("Z", "1Z"))}`,
      keep: (s: Seeded) => s.micros > BASE_MICROS + 10_000_001n,
    },
    {
      name: "started_before finer than a microsecond",
      query: () => `&started_before=${encodeURIComponent(isoMicros(BASE_MICROS + 10_000_001n).replace("Z", "1Z"))}`,
      keep: (s: Seeded) => s.micros <= BASE_MICROS + 10_000_001n,
    },
    {
      name: "initiator and provider together",
      query: () => `&initiator=${initiatorA}&provider=openai`,
      keep: (s: Seeded) => s.initiator === initiatorA && s.provider === "openai",
    },
    { name: "a model nobody used", query: () => "&model=none", keep: () => false },
  ];
  for (const f of filters) {
    it(`filters by ${f.name}, across pages of 3`, async () => {
      const want = newestFirst(seeded.filter(f.keep)).map((s) => s.id);
      const { seen } = await pages(f.query(), 3);
      assert.deepEqual(seen, want);
    });
  }
  it("carries each interception's children, token counts as numbers", async () => {
    const res = await h.call("GET", `${LIST}?limit=2`);
    const item = res.json.interceptions.find((x: { id: string }) => x.id === withChildren);
    assert.ok(item, "the interception with children is on the first page");
    const s = seeded[28]!;
    const { prompts, token_usages, tool_usages, model_thoughts, started_at, ended_at, ...rest } = item;
    assert.deepEqual(rest, {
      id: s.id,
      initiator_id: s.initiator,
      api_key_id: "abcdefghij",
      provider: s.provider,
      provider_name: s.provider,
      model: s.model,
      client: s.client,
      client_session_id: null,
      credential_kind: "centralized",
      credential_hint: "",
      metadata: { n: 28 },
      error_type: null,
      error_message: null,
      thread_parent_id: null,
      thread_root_id: null,
    });
    assert.equal(started_at, isoMicros(s.micros));
    assert.equal(ended_at, new Date(Number(s.micros / 1000n) + 500).toISOString());
    const strip = <T extends { id: string; created_at: string }>(rows: T[]) => rows.map(({ id, created_at, ...r }) => (assert.match(id, /^[0-9a-f-]{36}$/), assert.ok(created_at), r));
    assert.deepEqual(strip(prompts), [
      { provider_response_id: "resp-1", prompt: "hello", metadata: {} },
      { provider_response_id: "resp-2", prompt: "again", metadata: { k: "v" } },
    ]);
    assert.deepEqual(strip(token_usages), [
      { provider_response_id: "resp-1", input_tokens: 1200, output_tokens: 340, cache_read_input_tokens: 5_000_000_000, cache_write_input_tokens: 7, metadata: {} },
    ]);
    assert.deepEqual(strip(tool_usages), [
      {
        provider_response_id: "resp-1",
        provider_tool_call_id: "call-1",
        provider_item_id: "item-1",
        server_url: "https://mcp.example",
        tool: "read_file",
        input: '{"path":"/a"}',
        injected: true,
        invocation_error: null,
        metadata: {},
      },
    ]);
    assert.deepEqual(strip(model_thoughts), [{ content: "thinking", metadata: {} }]);
    const other = res.json.interceptions.find((x: { id: string }) => x.id !== withChildren);
    assert.deepEqual([other.prompts, other.token_usages, other.tool_usages, other.model_thoughts], [[], [], [], []]);
  });
  it("loads children with one query per child table, whatever the page size", async () => {
    const pool = new pg.Pool({ connectionString: h.t.url, max: 2 });
    let queries: string[] = [];
    const counted = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: (e) => void queries.push(e.query.sql) });
    const tables = ["aibridge_interceptions", "aibridge_user_prompts", "aibridge_token_usages", "aibridge_tool_usages", "aibridge_model_thoughts"];
    try {
      const served = await h.serve({ db: counted });
      for (const limit of [2, 25]) {
        queries = [];
        const res = await call(served.baseUrl, "GET", `${LIST}?limit=${limit}`, { token: h.owner.key });
        assert.equal(res.json.interceptions.length, limit);
        const perTable = tables.map((t) => queries.filter((q) => q.includes(`from "${t}"`)).length);
        assert.deepEqual(perTable, [1, 1, 1, 1, 1], `limit ${limit}: ${queries.join(" | ")}`);
      }
    } finally {
      await counted.destroy();
    }
  });
});

describe("bad parameters", () => {
  const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const cases = [
    { query: "initiator=nope", field: "initiator", detail: "Must be a UUID." },
    { query: "limit=0", field: "limit", detail: "Must be an integer from 1 to 100." },
    { query: "limit=101", field: "limit", detail: "Must be an integer from 1 to 100." },
    { query: "limit=ten", field: "limit", detail: "Must be an integer from 1 to 100." },
    { query: "limit=1.5", field: "limit", detail: "Must be an integer from 1 to 100." },
    { query: "started_after=yesterday", field: "started_after", detail: "Must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z." },
    { query: "started_before=2026-13-01T00:00:00Z", field: "started_before", detail: "Must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z." },
    { query: "after=garbage!", field: "after", detail: "Must be a next_cursor returned by this endpoint." },
    { query: `after=${cursorOf({ started_at: "2026-01-01T00:00:00Z", id: "nope" })}`, field: "after", detail: "Must be a next_cursor returned by this endpoint." },
    { query: `after=${cursorOf({ started_at: "noon", id: randomUUID() })}`, field: "after", detail: "Must be a next_cursor returned by this endpoint." },
    { query: "provider=", field: "provider", detail: "Must be 1 to 4096 characters." },
    { query: `model=${"m".repeat(4097)}`, field: "model", detail: "Must be 1 to 4096 characters." },
    { query: "provider=a&provider=b", field: "provider", detail: "Must be given at most once." },
    { query: "initator=typo", field: "initator", detail: "Unknown query parameter." },
    // RFC 3339 that PostgreSQL's timestamptz refuses: no year 0000, offsets only to ±15:59.
    { query: "started_after=0000-01-01T00:00:00Z", field: "started_after", detail: "Must be an RFC 3339 timestamp in year 0001 or later." },
    { query: "started_before=0000-12-31T23:59:59-01:00", field: "started_before", detail: "Must be an RFC 3339 timestamp in year 0001 or later." },
    { query: "started_after=9999-12-31T23:59:59-23:59", field: "started_after", detail: "Must be an RFC 3339 timestamp with a UTC offset from -15:59 to +15:59." },
    { query: "started_before=2026-01-01T00:00:00%2B16:00", field: "started_before", detail: "Must be an RFC 3339 timestamp with a UTC offset from -15:59 to +15:59." },
    { query: "started_after=2026-01-01T00:00:00-16:00", field: "started_after", detail: "Must be an RFC 3339 timestamp with a UTC offset from -15:59 to +15:59." },
    { query: "started_after=2026-12-31T23:59:60Z", field: "started_after", detail: "Must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z." },
    { query: "started_after=2026-01-01T00:00:00.1234567891Z", field: "started_after", detail: "Must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z." },
    { query: `after=${cursorOf({ started_at: "0000-01-01T00:00:00Z", id: randomUUID() })}`, field: "after", detail: "Must be a next_cursor returned by this endpoint." },
    { query: `after=${cursorOf({ started_at: "2026-01-01T00:00:00+16:00", id: randomUUID() })}`, field: "after", detail: "Must be a next_cursor returned by this endpoint." },
  ];
  for (const c of cases) {
    it(`refuses ${c.query} naming ${c.field}`, async () => {
      const res = await h.call("GET", `${LIST}?${c.query}`);
      assert.equal(res.status, 400);
      assert.deepEqual(res.json, { message: "Invalid query parameters.", validations: [{ field: c.field, detail: c.detail }] });
    });
  }
  // The extremes that are accepted reach PostgreSQL and work there (no 500).
  const extremes = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00%2B15:59",
    "9999-12-31T23:59:59.999999999-15:59",
    "2026-01-01T00:00:00-15:59",
    "2026-01-01T00:00:00.123456789%2B15:59",
  ];
  for (const t of extremes) {
    it(`accepts ${decodeURIComponent(t)} in started_after, started_before and a cursor`, async () => {
      const cursor = cursorOf({ started_at: decodeURIComponent(t), id: randomUUID() });
      for (const query of [`started_after=${t}`, `started_before=${t}`, `after=${cursor}`]) {
        const res = await h.call("GET", `${LIST}?${query}`);
        assert.equal(res.status, 200, `${query}: ${res.text}`);
      }
    });
  }
  it("reports several bad parameters at once", async () => {
    const res = await h.call("GET", `${LIST}?limit=0&initiator=x`);
    assert.deepEqual(
      res.json.validations.map((v: { field: string }) => v.field),
      ["initiator", "limit"],
    );
  });
});

describe("one by id", () => {
  it("returns the same object as the list", async () => {
    const listed = (await h.call("GET", `${LIST}?limit=100`)).json.interceptions.find((x: { id: string }) => x.id === withChildren);
    const res = await h.call("GET", `${LIST}/${withChildren}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, listed);
  });
  it("returns an in-flight interception", async () => {
    const res = await h.call("GET", `${LIST}/${seeded[29]!.id}`);
    assert.equal(res.status, 200);
    assert.equal(res.json.ended_at, null);
  });
  const cases = [
    { name: "a bad UUID", id: "nope", want: 400, json: { message: "Invalid interception ID." } },
    { name: "an unknown id", id: randomUUID(), want: 404, json: { message: "Interception not found." } },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} → ${c.want}`, async () => {
      const res = await h.call("GET", `${LIST}/${c.id}`);
      assert.equal(res.status, c.want);
      assert.deepEqual(res.json, c.json);
    });
  }
});

describe("a model name as long as a gateway records one", () => {
  it("is a filter that finds it (4 KiB, the gateway's cut)", async () => {
    const id = randomUUID();
    const model = "m".repeat(4096);
    await h.t.db
      .insertInto("aibridge_interceptions")
      .values({ id, initiator_id: initiatorA, api_key_id: "abcdefghij", provider: "openai", provider_name: "openai", model, metadata: "{}", started_at: new Date(), client: "", credential_kind: "centralized", credential_hint: "" })
      .execute();
    try {
      const res = await h.call("GET", `${LIST}?model=${model}`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.interceptions.map((i: { id: string }) => i.id), [id]);
    } finally {
      await h.t.db.deleteFrom("aibridge_interceptions").where("id", "=", id).execute();
    }
  });
});
