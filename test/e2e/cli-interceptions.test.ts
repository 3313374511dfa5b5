// `weir interceptions list|show` as an operator runs them, against traffic recorded through a
// real gateway replica (the official OpenAI client): the table shows what the admin API holds,
// pages follow the cursor without overlap, filters narrow, and mistakes get one clear line.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { eventually, recorded, startStack, weirAdmin, type Stack } from "./stack.js";

let stack: Stack;
let bobId: string;
const REQUESTS = 5;

before(async () => {
  stack = await startStack({ replicas: 1 });
  const openai = new OpenAI({ apiKey: stack.user.apiKey, baseURL: `${stack.replicas[0]!.url}/openai/v1`, maxRetries: 0 });
  for (let i = 0; i < REQUESTS; i++) {
    await openai.chat.completions.create({ model: i % 2 === 0 ? "gpt-4o" : "gpt-4o-mini", messages: [{ role: "user", content: `question ${i}` }] });
  }
  await recorded(stack, (list) => list.length === REQUESTS && list.every((i) => i.ended_at !== null && i.token_usages.length === 1));
  bobId = (await stack.admin.request("POST", "/api/v2/users", { username: "bob", role: "member" })).body.id;
});
after(async () => {
  await stack?.stop();
});

const weir = (args: string[], env: Record<string, string> = {}) => weirAdmin(stack, ["interceptions", ...args], env);

/** The admin API's list, newest first. */
async function apiList(): Promise<any[]> {
  return (await stack.admin.request("GET", "/api/v2/ai-gateway/interceptions?limit=100")).body.interceptions;
}

describe("weir interceptions", () => {
  it("lists interceptions newest first as a table of what was recorded", async () => {
    const expected = await apiList();
    const res = await weir(["list"]);
    assert.equal(res.code, 0, res.out);
    const [header, ...rows] = res.out.trimEnd().split("\n");
    assert.match(header!, /^ID +STARTED AT +USER +PROVIDER +MODEL +CLIENT +INPUT +OUTPUT +CACHED +TOOLS +STATUS$/);
    assert.equal(rows.length, REQUESTS);
    rows.forEach((line, n) => {
      const i = expected[n];
      const u = i.token_usages[0];
      assert.deepEqual(line.split(/ {2,}/), [i.id, i.started_at, "alice", "openai", i.model, i.client || "-", String(u.input_tokens), String(u.output_tokens), String(u.cache_read_input_tokens), "0", "ok"]);
      assert.ok(u.input_tokens > 0 && u.output_tokens > 0);
    });
  });

  it("pages with --limit and --after without overlap, and --all --json gathers every page", async () => {
    const expected = (await apiList()).map((i) => i.id);
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await weir(["list", "--limit", "2", "--json", ...(after ? ["--after", after] : [])]);
      assert.equal(res.code, 0, res.out);
      const body = JSON.parse(res.out) as { interceptions: { id: string }[]; next_cursor?: string };
      assert.ok(body.interceptions.length <= 2);
      seen.push(...body.interceptions.map((i) => i.id));
      after = body.next_cursor;
      if (after === undefined) break;
    }
    assert.deepEqual(seen, expected);

    const limited = await weir(["list", "--limit", "2"]);
    assert.match(limited.out, /^more: --after \S+$/m);

    const all = await weir(["list", "--all", "--json"]);
    assert.equal(all.code, 0, all.out);
    const gathered = JSON.parse(all.out) as { interceptions: { id: string; prompts: { prompt: string }[] }[]; next_cursor?: string };
    assert.deepEqual(gathered.interceptions.map((i) => i.id), expected);
    assert.equal(gathered.next_cursor, undefined);
    assert.deepEqual(gathered.interceptions.map((i) => i.prompts[0]?.prompt).reverse(), Array.from({ length: REQUESTS }, (_, i) => `question ${i}`));

    const table = await weir(["list", "--all"]);
    const [header, ...rows] = table.out.trimEnd().split("\n");
    assert.match(header!, /^ID +STARTED AT +USER/);
    assert.deepEqual(rows.map((r) => r.split(/ +/)[0]), expected);
  });

  it("filters by user (name or id), model and time", async () => {
    const byName = JSON.parse((await weir(["list", "--initiator", "alice", "--model", "gpt-4o-mini", "--json"])).out);
    assert.deepEqual(byName.interceptions.map((i: any) => i.model), ["gpt-4o-mini", "gpt-4o-mini"]);
    const bob = JSON.parse((await weir(["list", "--initiator", bobId, "--json"])).out);
    assert.deepEqual(bob.interceptions, []);
    const future = JSON.parse((await weir(["list", "--started-after", "2999-01-01T00:00:00Z", "--json"])).out);
    assert.deepEqual(future.interceptions, []);
    // A deleted user's traffic is still found, by id or by name, and the table names them.
    const carol = (await stack.admin.request("POST", "/api/v2/users", { username: "carol", role: "member" })).body;
    const carolKey = (await stack.admin.request("POST", `/api/v2/users/${carol.id}/keys`, { name: "k" })).body.key;
    const openai = new OpenAI({ apiKey: carolKey, baseURL: `${stack.replicas[0]!.url}/openai/v1`, maxRetries: 0 });
    await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "carol's question" }] });
    await eventually("carol's interception", async () => {
      const res = await stack.admin.request("GET", `/api/v2/ai-gateway/interceptions?initiator=${carol.id}`);
      return res.body.interceptions.length === 1 && res.body.interceptions[0].ended_at ? true : undefined;
    });
    assert.equal((await stack.admin.request("DELETE", `/api/v2/users/${carol.id}`)).status, 204);
    const deleted = await weir(["list", "--initiator", carol.id, "--json"]);
    assert.equal(deleted.code, 0, deleted.out);
    assert.deepEqual(JSON.parse(deleted.out).interceptions.map((i: any) => i.prompts[0].prompt), ["carol's question"]);
    const byDeletedName = await weir(["list", "--initiator", "carol", "--json"]);
    assert.equal(byDeletedName.code, 0, byDeletedName.out);
    assert.deepEqual(JSON.parse(byDeletedName.out).interceptions.map((i: any) => i.initiator_id), [carol.id]);
    assert.equal((await weir(["list", "--initiator", "carol"])).out.trimEnd().split("\n")[1]?.split(/ {2,}/)[2], "carol (deleted)");
    // The name is free again: a new carol is the one meant while she exists; once she is deleted
    // too, the name is ambiguous and the ids are asked for.
    const carol2 = (await stack.admin.request("POST", "/api/v2/users", { username: "carol", role: "member" })).body;
    assert.deepEqual(JSON.parse((await weir(["list", "--initiator", "carol", "--json"])).out).interceptions, []);
    assert.equal((await stack.admin.request("DELETE", `/api/v2/users/${carol2.id}`)).status, 204);
    const ambiguous = await weir(["list", "--initiator", "carol"]);
    assert.equal(ambiguous.code, 1);
    assert.equal(ambiguous.out, `weir: 2 deleted users were named "carol": give one's id (${carol.id}, ${carol2.id})\n`);
  });

  it("takes filters from WEIR_INTERCEPTIONS_* variables only, not from generic names left in an environment", async () => {
    const stray = JSON.parse((await weir(["list", "--json"], { WEIR_MODEL: "gpt-4o-mini", WEIR_LIMIT: "1", WEIR_PROVIDER: "anthropic" })).out);
    assert.equal(stray.interceptions.length, (await apiList()).length);
    assert.ok(stray.interceptions.length > 1);
    const named = JSON.parse((await weir(["list", "--json"], { WEIR_INTERCEPTIONS_MODEL: "gpt-4o-mini", WEIR_INTERCEPTIONS_LIMIT: "1" })).out);
    assert.deepEqual(named.interceptions.map((i: any) => i.model), ["gpt-4o-mini"]);
    assert.equal(typeof named.next_cursor, "string");
  });

  it("shows one interception as the admin API has it", async () => {
    const [newest] = await apiList();
    const res = await weir(["show", newest.id]);
    assert.equal(res.code, 0, res.out);
    assert.deepEqual(JSON.parse(res.out), newest);
  });

  // SECURITY: a member names the model; the owner's terminal must not run it.
  it("shows control characters a client put in a model name escaped, on one row", async () => {
    const evil = "evil\u001b[2J\u001b]0;pwned\u0007\nFAKE  bob  openai  gpt-4o  ok\u202e";
    const openai = new OpenAI({ apiKey: stack.user.apiKey, baseURL: `${stack.replicas[0]!.url}/openai/v1`, maxRetries: 0 });
    await openai.chat.completions.create({ model: evil, messages: [{ role: "user", content: "hi" }] });
    await eventually("the interception", async () => ((await apiList()).some((i) => i.model === evil && i.ended_at !== null) ? true : undefined));
    const res = await weir(["list", "--limit", "1"]);
    assert.equal(res.code, 0, res.out);
    assert.doesNotMatch(res.out, /[\u001b\u0007\u202e]/);
    const rows = res.out.trimEnd().split("\n").filter((l) => !l.startsWith("more:"));
    assert.equal(rows.length, 2, res.out);
    assert.ok(rows[1]!.includes("evil\\u001b[2J\\u001b]0;pwned\\u0007\\u000aFAKE  bob  openai  gpt-4o  ok\\u202e"), rows[1]);
    const json = JSON.parse((await weir(["list", "--limit", "1", "--json"])).out);
    assert.equal(json.interceptions[0].model, evil);
  });

  it("answers mistakes with one line and exit code 1", async () => {
    const checks: Promise<void>[] = [];
    for (const [args, line] of [
      [["list", "--limit", "0"], /^weir: --limit must be an integer from 1 to 100, got "0"$/m],
      [["list", "--limit", "1000"], /^weir: --limit must be an integer from 1 to 100, got "1000"$/m],
      [["list", "--initiator", "nobody"], /^weir: no user named or with id "nobody"$/m],
      [["list", "--started-after", "yesterday"], /^weir: GET \/api\/v2\/ai-gateway\/interceptions\?started_after=yesterday&limit=25: 400 Invalid query parameters\. — started_after: /m],
      [["list", "--after", "forged"], /^weir: GET .*: 400 Invalid query parameters\. — after: Must be a next_cursor returned by this endpoint\.$/m],
      [["show", "not-a-uuid"], /^weir: GET \/api\/v2\/ai-gateway\/interceptions\/not-a-uuid: 400 /m],
      [["show", "00000000-0000-4000-8000-000000000000"], /^weir: GET \/api\/v2\/ai-gateway\/interceptions\/00000000-0000-4000-8000-000000000000: 404 /m],
    ] as const) {
      checks.push(
        weir([...args]).then((res) => {
          assert.equal(res.code, 1, `${args.join(" ")}: ${res.out}`);
          assert.match(res.out, line);
        }),
      );
    }
    await Promise.all(checks);
  });
});
