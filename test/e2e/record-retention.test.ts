// `weir control-plane --record-retention` as operators run it: at start the control plane
// deletes recorded interceptions (with their children) that started longer ago than the retention
// period, counts them in /metrics, and keeps everything younger; 0 keeps everything; a period
// shorter than an hour is refused before anything starts.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { eventually, freePort, runWeir, type WeirProcess } from "./stack.js";

const HOUR = 3_600_000;

let database: TestDatabase;
const running: WeirProcess[] = [];

before(async () => {
  database = await createTestDatabase();
});

after(async () => {
  for (const weir of running) {
    if (weir.child.exitCode === null) {
      weir.child.kill("SIGKILL");
      await weir.exited;
    }
  }
  await database?.drop();
});

/** An ended interception started `ageMs` ago, with one row in each child table. */
async function seed(ageMs: number): Promise<string> {
  const id = randomUUID();
  const startedAt = new Date(Date.now() - ageMs);
  await database.db
    .insertInto("aibridge_interceptions")
    .values({
      id,
      initiator_id: randomUUID(),
      api_key_id: "abcdefghij",
      provider: "anthropic",
      provider_name: "anthropic",
      model: "claude-sonnet-4-5",
      metadata: "{}",
      started_at: startedAt,
      client: "claude-code",
      credential_kind: "centralized",
      credential_hint: "",
    })
    .execute();
  await database.db.updateTable("aibridge_interceptions").set({ ended_at: new Date(startedAt.getTime() + 1000) }).where("id", "=", id).execute();
  const common = { interception_id: id, metadata: "{}", created_at: startedAt };
  await database.db.insertInto("aibridge_token_usages").values({ ...common, provider_response_id: "r", input_tokens: 9, output_tokens: 3, cache_read_input_tokens: 0, cache_write_input_tokens: 0 }).execute();
  await database.db.insertInto("aibridge_user_prompts").values({ ...common, provider_response_id: "r", prompt: "hello" }).execute();
  await database.db
    .insertInto("aibridge_tool_usages")
    .values({ ...common, provider_response_id: "r", provider_tool_call_id: "toolu_1", provider_item_id: "", tool: "Read", input: "{}", injected: false })
    .execute();
  await database.db.insertInto("aibridge_model_thoughts").values({ ...common, content: "thinking" }).execute();
  return id;
}

async function counts(): Promise<number[]> {
  const r = await sql<{ i: number; t: number; p: number; u: number; m: number }>`SELECT
      (SELECT count(*) FROM aibridge_interceptions)::int AS i, (SELECT count(*) FROM aibridge_token_usages)::int AS t,
      (SELECT count(*) FROM aibridge_user_prompts)::int AS p, (SELECT count(*) FROM aibridge_tool_usages)::int AS u,
      (SELECT count(*) FROM aibridge_model_thoughts)::int AS m`.execute(database.db);
  const row = r.rows[0]!;
  return [row.i, row.t, row.p, row.u, row.m];
}

async function startControlPlane(retention: string): Promise<{ weir: WeirProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const weir = runWeir(["control-plane", "--listen", `127.0.0.1:${port}`, "--log-level", "info", "--record-retention", retention], { WEIR_DATABASE_URL: database.url });
  running.push(weir);
  await eventually(
    "the control plane to be ready",
    async () => {
      if (weir.child.exitCode !== null) throw new Error(`exited with ${weir.child.exitCode}: ${weir.output()}`);
      return (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) || undefined;
    },
    30_000,
  );
  return { weir, url };
}

async function stop(weir: WeirProcess): Promise<void> {
  weir.child.kill("SIGTERM");
  assert.equal((await weir.exited).code, 0);
}

describe("weir control-plane --record-retention", () => {
  it("deletes at start what started longer ago than the retention period, with its children, and keeps the rest", async () => {
    await sql`TRUNCATE aibridge_interceptions, aibridge_token_usages, aibridge_user_prompts, aibridge_tool_usages, aibridge_model_thoughts`.execute(database.db);
    const old = [await seed(30 * 24 * HOUR), await seed(3 * HOUR)];
    const young = await seed(HOUR / 2);
    assert.deepEqual(await counts(), [3, 3, 3, 3, 3]);

    const { weir, url } = await startControlPlane("2h");
    await eventually("the purge", async () => ((await counts())[0] === 1 ? true : undefined));
    assert.deepEqual(await counts(), [1, 1, 1, 1, 1]);
    const left = await database.db.selectFrom("aibridge_interceptions").select("id").execute();
    assert.deepEqual(left.map((r) => r.id), [young], `${old.join(", ")} purged`);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const table of ["aibridge_interceptions", "aibridge_token_usages", "aibridge_user_prompts", "aibridge_tool_usages", "aibridge_model_thoughts"]) {
      assert.match(metrics, new RegExp(`^weir_controlplane_records_purged_total\\{table="${table}"\\} 2$`, "m"));
    }
    await stop(weir);
    const lines = weir.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    assert.equal(lines.find((l) => l.msg === "control plane listening")?.record_retention_seconds, 7200);
    const purged = lines.find((l) => l.msg === "purged records past the retention period");
    assert.deepEqual(purged?.deleted, {
      aibridge_token_usages: 2,
      aibridge_user_prompts: 2,
      aibridge_tool_usages: 2,
      aibridge_model_thoughts: 2,
      aibridge_interceptions: 2,
    });
  });

  it("keeps everything with 0", async () => {
    await sql`TRUNCATE aibridge_interceptions, aibridge_token_usages, aibridge_user_prompts, aibridge_tool_usages, aibridge_model_thoughts`.execute(database.db);
    await seed(400 * 24 * HOUR);
    const { weir, url } = await startControlPlane("0");
    // A purge would run right after start; give it that moment, then check it did not.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.deepEqual(await counts(), [1, 1, 1, 1, 1]);
    assert.doesNotMatch(await (await fetch(`${url}/metrics`)).text(), /^weir_controlplane_records_purged_total\{/m);
    await stop(weir);
    const listening = weir.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((l) => l.msg === "control plane listening");
    assert.equal(listening?.record_retention_seconds, 0);
  });

  it("refuses a period shorter than an hour before starting", async () => {
    for (const [value, shown] of [
      ["30m", '"30m"'],
      ["3599", '"3599"'],
      ["36501d", '"36501d"'],
    ] as const) {
      const weir = runWeir(["control-plane", "--listen", "127.0.0.1:0", "--record-retention", value], { WEIR_DATABASE_URL: database.url });
      running.push(weir);
      assert.equal((await weir.exited).code, 1);
      assert.match(weir.output(), new RegExp(`--record-retention must be 0 \\(keep forever\\) or from 1h to 36500d, got ${shown}`));
    }
    const bad = runWeir(["control-plane", "--listen", "127.0.0.1:0"], { WEIR_DATABASE_URL: database.url, WEIR_RECORD_RETENTION: "sixty days" });
    running.push(bad);
    assert.equal((await bad.exited).code, 1);
    assert.equal(bad.output(), 'weir: --record-retention must be 0 or a duration (e.g. 3600, 90s, 15m, 12h or 30d), got "sixty days"\n');
  });
});
