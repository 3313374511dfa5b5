// `weir control-plane` refuses, before starting anything, what it would otherwise ignore or
// misread: gateway flags without --embedded-gateway, --data-dir next to a database URL, and a
// database URL that is not one (without echoing it: it may hold a password).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runWeir } from "./stack.js";

async function refused(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const weir = runWeir(["control-plane", "--listen", "127.0.0.1:0", ...args], env);
  const { code } = await weir.exited;
  assert.equal(code, 1, weir.output());
  return weir.output();
}

describe("weir control-plane flags", () => {
  it("refuses a gateway flag without --embedded-gateway, but not the same setting from the environment", async () => {
    assert.equal(await refused(["--max-concurrency", "5"]), "weir: --max-concurrency only applies with --embedded-gateway (weir gateway takes it too)\n");
    assert.equal(await refused(["--openai-api-key", "sk-x"]), "weir: --openai-api-key only applies with --embedded-gateway (weir gateway takes it too)\n");
    // The variable is let be (a shared environment file); the bad URL stops this run instead.
    assert.equal(await refused(["--database-url", "notaurl"], { WEIR_MAX_CONCURRENCY: "5" }), "weir: --database-url is not a URL: use postgres://user:password@host:5432/database\n");
  });

  it("refuses --data-dir with a database URL, and a URL of another scheme without echoing it", async () => {
    assert.equal(
      await refused(["--database-url", "postgres://weir:secret@127.0.0.1:1/weir", "--data-dir", "/tmp/weir-unused"]),
      "weir: --data-dir is for the embedded PostgreSQL: it has no effect with a database URL\n",
    );
    const out = await refused(["--database-url", "mysql://weir:secret@db/weir"]);
    assert.equal(out, "weir: --database-url must be a postgres:// or postgresql:// URL, not mysql://…\n");
    assert.ok(!out.includes("secret"));
    assert.equal(await refused([], { DATABASE_URL: "db.internal:5432", WEIR_DATABASE_URL: "" }), "weir: DATABASE_URL must be a postgres:// or postgresql:// URL, not db.internal://…\n");
  });
});
