// The admin commands' edges (real processes against a real control plane): a full key pasted
// where a key id belongs is never echoed back, `--url` may carry a proxy's sub-path, and
// `weir tokens create --recover` gives an owner whose keys all expired a key again, directly
// on the database (and refuses while an owner can still use the admin API).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { sql } from "kysely";
import { freePort, startStack, weirAdmin, type Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 0 });
});
after(async () => {
  await stack?.stop();
});

const weir = (args: string[], env: Record<string, string> = {}) => weirAdmin(stack, args, env);

describe("a full key where a key id belongs", () => {
  it("tokens delete refuses it in one line that shows only the key id, and the key stays", async () => {
    const [id, secret] = stack.user.apiKey.split("-") as [string, string];
    const { code, out } = await weir(["tokens", "delete", stack.user.apiKey, "--user", "alice", "--yes"]);
    assert.equal(code, 1, out);
    assert.equal(out.trimEnd().split("\n").length, 1, out);
    assert.ok(!out.includes(secret), `the secret was echoed: ${out}`);
    assert.match(out, new RegExp(`^weir: ${id}-\\*\\*\\* is a full key, not a key ID`));
    const keys = (await stack.admin.request("GET", `/api/v2/users/${stack.user.id}/keys`)).body as { id: string }[];
    assert.ok(keys.some((k) => k.id === id));
  });

  it("no error line repeats a full key", async () => {
    const [id, secret] = stack.user.apiKey.split("-") as [string, string];
    const { code, out } = await weir(["tokens", "list", "--user", stack.user.apiKey]);
    assert.equal(code, 1, out);
    assert.ok(!out.includes(secret), `the secret was echoed: ${out}`);
    assert.equal(out, `weir: no user named or with id "${id}-***"\n`);
  });
});

describe("--url with a path", () => {
  let proxy: Server;
  let proxyUrl: string;
  before(async () => {
    // A reverse proxy serving the control plane under /weir/ only.
    const upstream = new URL(stack.controlPlane.url);
    proxy = createServer((req, res) => {
      if (!req.url?.startsWith("/weir/")) {
        res.writeHead(404).end("not proxied");
        return;
      }
      const forwarded = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url.slice("/weir".length), headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(forwarded);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => proxy.listen(port, "127.0.0.1", resolve));
    proxyUrl = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await new Promise((resolve) => proxy?.close(resolve));
  });

  for (const suffix of ["/weir", "/weir/"]) {
    it(`keeps the base path of ${suffix}`, async () => {
      const { code, out } = await weir(["users", "list", "--json"], { WEIR_CONTROL_PLANE_URL: proxyUrl + suffix });
      assert.equal(code, 0, out);
      assert.ok((JSON.parse(out) as { username: string }[]).some((u) => u.username === "alice"));
    });
  }
});

describe("weir tokens create --recover", () => {
  const owners = () => stack.database.db.selectFrom("users").select("id").where("role", "=", "owner").where("is_system", "=", false);

  it("refuses while an active owner has a usable key", async () => {
    const { code, out } = await weir(["tokens", "create", "--user", "owner", "--recover", "--database-url", stack.database.url]);
    assert.equal(code, 1, out);
    assert.equal(out, "weir: an active owner still has a usable API key; create keys through the admin API with it\n");
  });

  it("refuses --database-url without --recover", async () => {
    const { code, out } = await weir(["tokens", "create", "--user", "owner", "--database-url", stack.database.url]);
    assert.equal(code, 1, out);
    assert.equal(out, "weir: --database-url is only used with --recover\n");
  });

  it("issues a working key once every owner key has expired", async () => {
    await stack.database.db
      .updateTable("api_keys")
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where("user_id", "in", owners())
      .execute();
    assert.equal((await stack.admin.request("GET", "/api/v2/users")).status, 401);

    const refused = await weir(["tokens", "create", "--user", "alice", "--recover", "--database-url", stack.database.url]);
    assert.equal(refused.code, 1, refused.out);
    assert.equal(refused.out, "weir: alice is not an active owner; recovery issues keys for active owners only\n");

    const created = await weir(["tokens", "create", "--user", "owner", "--recover", "--database-url", stack.database.url, "--json"]);
    assert.equal(created.code, 0, created.out);
    const key = JSON.parse(created.out) as { id: string; name: string; key: string; expires_at: string | null };
    assert.equal(key.name, "recovery");
    assert.equal(key.expires_at, null);
    const res = await fetch(`${stack.controlPlane.url}/api/v2/users`, { headers: { authorization: `Bearer ${key.key}` } });
    assert.equal(res.status, 200);
    const audit = await stack.database.db.selectFrom("audit_logs").selectAll().where("resource_id", "=", key.id).execute();
    assert.deepEqual(
      audit.map((a) => [a.user_id, a.action, a.resource_type]),
      [[null, "create", "api_key"]],
    );

    const again = await weir(["tokens", "create", "--user", "owner", "--recover", "--database-url", stack.database.url]);
    assert.equal(again.code, 1, again.out);
  });
});
