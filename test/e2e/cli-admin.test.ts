// The admin commands as an operator runs them (`weir keys|users|tokens`, real processes against
// a real control plane): what they print, what they change, and one clear line on errors.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually, freePort, runWeir, startStack, weirAdmin, type Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 0 });
});
after(async () => {
  await stack?.stop();
});

const weir = (args: string[], env: Record<string, string> = {}) => weirAdmin(stack, args, env);

describe("weir users, tokens and keys", () => {
  it("creates a user and an API key that authorizes, lists them as a table and as JSON", async () => {
    assert.match((await weir(["users", "create", "bob", "--email", "bob@example.com"])).out, /^Created member bob \([0-9a-f-]{36}\)$/m);
    const created = await weir(["tokens", "create", "--user", "bob", "--lifetime", "1h", "--json"]);
    assert.equal(created.code, 0, created.out);
    const token = JSON.parse(created.out) as { id: string; key: string; expires_at: string };
    assert.match(token.key, /^[0-9A-Za-z]{10}-[0-9A-Za-z]{22}$/);
    const lifetimeMs = Date.parse(token.expires_at) - Date.now();
    assert.ok(lifetimeMs > 3_500_000 && lifetimeMs <= 3_600_000, `expires in ${lifetimeMs} ms`);

    const table = await weir(["tokens", "list"], { WEIR_USER: "bob" });
    assert.equal(table.code, 0, table.out);
    const [header, row] = table.out.trimEnd().split("\n");
    assert.match(header!, /^ID {10}NAME {2}CREATED AT +EXPIRES AT$/);
    assert.ok(row!.startsWith(`${token.id}  -`), row);
    assert.ok(!table.out.includes(token.key), "a list never shows the key");

    const users = JSON.parse((await weir(["users", "list", "--json"])).out) as { username: string; email: string | null }[];
    assert.deepEqual(users.find((u) => u.username === "bob")?.email, "bob@example.com");
  });

  it("suspends and reactivates a user", async () => {
    assert.equal((await weir(["users", "suspend", "bob"])).out, "Suspended user bob\n");
    const users = (await stack.admin.request("GET", "/api/v2/users")).body as { username: string; status: string }[];
    assert.equal(users.find((u) => u.username === "bob")?.status, "suspended");
    assert.equal((await weir(["users", "activate", "bob"])).out, "Activated user bob\n");
  });

  it("creates a gateway key, refuses to delete it without confirmation, deletes it by name with --yes", async () => {
    const created = await weir(["keys", "create", "cli-test"]);
    assert.equal(created.code, 0, created.out);
    assert.match(created.out, /^ {2}key: {4}wgk_[0-9A-Za-z]{39}$/m);
    const list = await weir(["keys", "list"]);
    assert.match(list.out, /^ID +NAME +KEY PREFIX +DELEGATION +LAST USED AT +CREATED AT$/m);
    assert.match(list.out, /cli-test +wgk_/);

    const refused = await weir(["keys", "delete", "cli-test"]);
    assert.equal(refused.code, 1);
    assert.match(refused.out, /^weir: Delete gateway key cli-test .* refusing without --yes \(no terminal to confirm on\)$/m);
    assert.equal((await weir(["keys", "delete", "cli-test", "--yes"])).out, "Deleted gateway key cli-test\n");
    const keys = (await stack.admin.request("GET", "/api/v2/ai-gateway/keys")).body as { name: string }[];
    assert.ok(!keys.some((k) => k.name === "cli-test"));
  });

  const errors: { name: string; args: string[]; env: Record<string, string>; want: RegExp }[] = [
    { name: "a bad admin token", args: ["users", "list"], env: { WEIR_ADMIN_TOKEN: "abcdefghij-0123456789012345678901" }, want: /^weir: GET \/api\/v2\/users: 401 / },
    { name: "an invalid gateway key name", args: ["keys", "create", "Not-Valid"], env: {}, want: /^weir: POST \/api\/v2\/ai-gateway\/keys: 400 Invalid key name\. — name: Must be 64 characters or fewer/ },
    { name: "an unknown user", args: ["tokens", "list", "--user", "nobody"], env: {}, want: /^weir: no user named or with id "nobody"$/m },
    { name: "a bad lifetime", args: ["tokens", "create", "--user", "bob", "--lifetime", "soon"], env: {}, want: /^weir: --lifetime must be a duration above 0 \(e\.g\. 3600, 90s, 15m, 12h or 30d\), got "soon"$/m },
  ];
  it("fails with one line and exit 1 when the control plane is unreachable", async () => {
    const url = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const { code, out } = await weir(["keys", "list"], { WEIR_CONTROL_PLANE_URL: url });
    assert.equal(code, 1, out);
    assert.equal(out, `weir: cannot reach the control plane at ${url}: ECONNREFUSED\n`);
  });

  for (const c of errors) {
    it(`fails with one line and exit 1 on ${c.name}`, async () => {
      const { code, out } = await weir(c.args, c.env);
      assert.equal(code, 1, out);
      assert.equal(out.trimEnd().split("\n").length, 1, out);
      assert.match(out, c.want);
    });
  }

  // Commander alone would turn a boolean flag on for any value of its variable, "false" too.
  it("reads boolean variables by their value: false and 0 are off, anything unclear is refused", async () => {
    const off = await weir(["keys", "list"], { WEIR_JSON: "false" });
    assert.equal(off.code, 0, off.out);
    assert.match(off.out, /^ID +NAME +KEY PREFIX/);
    const on = await weir(["keys", "list"], { WEIR_JSON: "1" });
    assert.ok(Array.isArray(JSON.parse(on.out)));
    await weir(["keys", "create", "keep-me"]);
    const notConfirmed = await weir(["keys", "delete", "keep-me"], { WEIR_YES: "0" });
    assert.equal(notConfirmed.code, 1);
    assert.match(notConfirmed.out, /refusing without --yes/);
    // A switch that is off is not given: no conflict with the option it excludes.
    const notAll = await weir(["interceptions", "list", "--after", "forged"], { WEIR_INTERCEPTIONS_ALL: "false" });
    assert.match(notAll.out, /after: Must be a next_cursor returned by this endpoint\./);
    const unclear = await weir(["keys", "list"], { WEIR_JSON: "maybe" });
    assert.equal(unclear.code, 1);
    assert.equal(unclear.out, 'weir: WEIR_JSON must be true or false (also 1/0, yes/no, on/off), got "maybe"\n');
  });

  it("does not allow BYOK when WEIR_ALLOW_BYOK=false", async () => {
    const gateway = runWeir(["gateway", "--listen", "127.0.0.1:0", "--log-level", "info"], {
      WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
      WEIR_GATEWAY_KEY: stack.gatewayKey.key,
      WEIR_ALLOW_BYOK: "false",
    });
    try {
      const starting = await eventually("the start-up line", async () => gateway.output().split("\n").find((l) => l.includes('"gateway starting"')));
      assert.equal(JSON.parse(starting).allow_byok, false);
    } finally {
      gateway.child.kill("SIGTERM");
      await gateway.exited;
    }
  });
});
