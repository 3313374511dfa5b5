// A deployment whose PostgreSQL goes away and comes back, with the daemons started as operators
// start them. PostgreSQL is reached through a TCP relay the test can cut (every connection
// dropped, new ones refused) and restore, and its backends can be terminated as a restart or
// failover does. What must hold: the control plane never dies of it; while the database is gone
// clients get 503 (not 500) and the gateway reports not ready; once it is back everything serves
// again and every request a client saw succeed is recorded exactly once; a control plane started
// before its database waits for it.
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { bootstrapOwner } from "@weir/controlplane";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { createLlmEmulator, type LlmEmulator } from "@weir/llm-emulator";
import { eventually, freePort, runWeir, type WeirProcess } from "./stack.js";

/** A TCP relay on a fixed port to PostgreSQL that can be cut (like a server going down) and restored. */
class DatabaseRelay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.server = server;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((r) => server.close(r));
  }
}

let database: TestDatabase;
let emulator: LlmEmulator;
let relay: DatabaseRelay;
let relayedUrl: string;
const processes: WeirProcess[] = [];

before(async () => {
  database = await createTestDatabase();
  emulator = createLlmEmulator();
  await emulator.start();
  const server = new URL(database.url);
  relay = new DatabaseRelay(await freePort(), { host: server.hostname, port: Number(server.port || 5432) });
  const relayed = new URL(database.url);
  relayed.hostname = "127.0.0.1";
  relayed.port = String(relay.port);
  relayedUrl = relayed.toString();
});
after(async () => {
  for (const p of processes) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill("SIGKILL");
      await p.exited;
    }
  }
  await relay?.cut();
  await emulator?.shutdown();
  await database?.drop();
});

function start(args: string[], env: Record<string, string>): WeirProcess {
  const p = runWeir(args, env);
  processes.push(p);
  return p;
}

async function ready(url: string, p: WeirProcess, what: string, timeoutMs = 30_000): Promise<void> {
  await eventually(
    `${what} to be ready`,
    async () => {
      if (p.child.exitCode !== null) throw new Error(`${what} exited with ${p.child.exitCode}: ${p.output()}`);
      return (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) || undefined;
    },
    timeoutMs,
  );
}

const logLines = (p: WeirProcess): any[] =>
  p
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));

describe("PostgreSQL going away and coming back", () => {
  let cpUrl: string;
  let cp: WeirProcess;
  let gwUrl: string;
  let gw: WeirProcess;
  let ownerKey: string;
  let userKey: string;

  it("a control plane started before its database waits for it, then serves", async () => {
    ownerKey = (await bootstrapOwner(database.db, { username: "owner" })).key;
    const port = await freePort();
    cpUrl = `http://127.0.0.1:${port}`;
    cp = start(["control-plane", "--listen", `127.0.0.1:${port}`, "--log-level", "info", "--record-retention", "0"], { WEIR_DATABASE_URL: relayedUrl });
    await eventually("a retry line", async () => (logLines(cp).some((l) => l.msg === "database not reachable; retrying") ? true : undefined), 15_000);
    assert.equal(cp.child.exitCode, null);
    await relay.open();
    await ready(cpUrl, cp, "the control plane");
    // Log lines are written in blocks: the line may reach the pipe a moment after readiness.
    await eventually("the reachable line", async () => (logLines(cp).some((l) => l.msg === "database reachable") ? true : undefined), 5_000);
    assert.ok(!cp.output().includes(database.url.split("@")[0]!), "the database URL is never logged");
  });

  it("while the database is gone: the control plane lives, clients get 503, the gateway is not ready; afterwards all serves and records", async () => {
    const admin = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${cpUrl}${path}`, { method, headers: { authorization: `Bearer ${ownerKey}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
    };
    const user = (await admin("POST", "/api/v2/users", { username: "alice" })).body;
    userKey = (await admin("POST", `/api/v2/users/${user.id}/keys`, { name: "outage" })).body.key;
    const gatewayKey = (await admin("POST", "/api/v2/ai-gateway/keys", { name: "outage" })).body.key;
    const gwPort = await freePort();
    gwUrl = `http://127.0.0.1:${gwPort}`;
    gw = start(["gateway", "--listen", `127.0.0.1:${gwPort}`, "--log-level", "warn"], {
      WEIR_CONTROL_PLANE_URL: cpUrl,
      WEIR_GATEWAY_KEY: gatewayKey,
      WEIR_OPENAI_BASE_URL: emulator.openaiBaseUrl,
      WEIR_OPENAI_API_KEY: "sk-central",
      WEIR_ANTHROPIC_BASE_URL: emulator.anthropicBaseUrl,
      WEIR_ANTHROPIC_API_KEY: "sk-ant-central",
    });
    await ready(gwUrl, gw, "the gateway");

    let n = 0;
    const succeeded: string[] = [];
    const chat = async (): Promise<{ status: number; body: any }> => {
      const prompt = `outage prompt ${n++}`;
      const res = await fetch(`${gwUrl}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${userKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: prompt }] }),
      });
      const body = await res.json();
      if (res.status === 200) succeeded.push(prompt);
      return { status: res.status, body };
    };
    for (let i = 0; i < 5; i++) assert.equal((await chat()).status, 200);

    // A restart or failover ends every session, idle or inside a transaction.
    await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(database.db);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(cp.child.exitCode, null, `the control plane died: ${cp.output().slice(-2000)}`);
    await eventually("a request served after the terminations", async () => ((await chat()).status === 200 ? true : undefined), 15_000);

    // The database goes away.
    await relay.cut();
    const refused = await eventually("a 503", async () => {
      const r = await chat();
      return r.status === 503 ? r : undefined;
    }, 15_000);
    assert.equal(refused.body.message, "could not connect to the control plane");
    await eventually("the gateway to report not ready", async () => ((await fetch(`${gwUrl}/readyz`)).status === 503 ? true : undefined), 15_000);
    assert.equal((await fetch(`${cpUrl}/readyz`)).status, 503);
    const adminDuring = await admin("GET", "/api/v2/users");
    assert.deepEqual(adminDuring, { status: 503, body: { message: "The database is unavailable. Try again later." } });
    for (let i = 0; i < 5; i++) assert.notEqual((await chat()).status, 500);
    assert.equal(cp.child.exitCode, null);

    // It comes back.
    await relay.open();
    await ready(gwUrl, gw, "the gateway again");
    await eventually("a request served after the outage", async () => ((await chat()).status === 200 ? true : undefined), 15_000);
    for (let i = 0; i < 3; i++) assert.equal((await chat()).status, 200);

    // Every request a client saw succeed is recorded once, ended, with its usage.
    await eventually(
      "every successful request recorded",
      async () => {
        const rows = await sql<{ prompt: string; ended: boolean; usages: number }>`
          SELECT p.prompt, i.ended_at IS NOT NULL AS ended,
                 (SELECT count(*) FROM aibridge_token_usages u WHERE u.interception_id = i.id)::int AS usages
          FROM aibridge_user_prompts p JOIN aibridge_interceptions i ON i.id = p.interception_id`.execute(database.db);
        const byPrompt = new Map<string, { ended: boolean; usages: number }[]>();
        for (const r of rows.rows) byPrompt.set(r.prompt, [...(byPrompt.get(r.prompt) ?? []), r]);
        return succeeded.every((p) => byPrompt.get(p)?.length === 1 && byPrompt.get(p)![0]!.ended && byPrompt.get(p)![0]!.usages === 1) ? true : undefined;
      },
      20_000,
    );
    // An outage is a few warnings, not a stack trace per request.
    const cpLog = logLines(cp);
    assert.ok(!cpLog.some((l) => l.msg === "gateway key refused"), "a failed lookup is not a refused key");
    assert.ok(cpLog.filter((l) => l.msg === "rpc failed: database unavailable").length <= 10);
  });
});
