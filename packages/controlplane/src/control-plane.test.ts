// The daemon: one port for HTTP/1.1 (probes, metrics, admin API, 404s) and HTTP/2 (Connect RPC,
// h2c or TLS); 4 MiB message limit; /readyz follows the database; shutdown is idempotent and
// closes idle HTTP/2 sessions and keep-alive connections so processes exit on their own.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import { connect as netConnect } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Authorizer, MCPConfigurator, Recorder } from "@weir/proto";
import pino from "pino";
import { sql } from "kysely";
import { CONTROL_PLANE_DEFAULTS, bootstrapOwner, createControlPlane, type ControlPlane } from "./index.js";
import { captureLogger, createDatabase, createTestDatabase, databaseUrl, dropDatabase, type TestDatabase } from "./testing/index.js";
import { createTestH2Transport, gatewayHeaders, insertApiKey, insertGatewayKey, insertUser, type GatewayKeyFixture, type TestH2Transport } from "./testing/rpc-fixtures.js";

const logger = pino({ level: "silent" });
const listen = { host: "127.0.0.1", port: 0 };

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

async function get(url: string, init?: RequestInit): Promise<{ status: number; type: string; body: string; allow: string | null }> {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text(), allow: res.headers.get("allow") };
}

describe("options", () => {
  // Property: defaults live in one frozen constant; resolved options are frozen too.
  it("defaults to 127.0.0.1:7080 and freezes its options", () => {
    assert.deepEqual(CONTROL_PLANE_DEFAULTS.listen, { host: "127.0.0.1", port: 7080 });
    assert.equal(CONTROL_PLANE_DEFAULTS.readMaxBytes, 4 * 1024 * 1024);
    const cp = createControlPlane({ logger });
    assert.ok(Object.isFrozen(cp.options) && Object.isFrozen(cp.options.listen));
    assert.deepEqual(cp.options.listen, { host: "127.0.0.1", port: 7080 });
    assert.throws(() => cp.url, /not running/);
  });

  // Property: a retention whose cut-off would be no date PostgreSQL takes is refused up front
  // (it crashed the first purge).
  it("refuses a record retention beyond 100 years", () => {
    assert.throws(() => createControlPlane({ logger, recordRetentionMs: 999_999_999 * 86_400_000 }), RangeError);
    // Shorter than an hour could purge interceptions still being recorded; 0 keeps everything.
    assert.throws(() => createControlPlane({ logger, recordRetentionMs: 60_000 }), /from 3600000 \(1 hour\)/);
    assert.equal(createControlPlane({ logger, recordRetentionMs: 0 }).options.recordRetentionMs, 0);
    assert.equal(createControlPlane({ logger, recordRetentionMs: 36_500 * 86_400_000 }).options.recordRetentionMs, 36_500 * 86_400_000);
    // A batch of 0 would never finish a pass.
    assert.throws(() => createControlPlane({ logger, recordPurgeBatchSize: 0 }), /recordPurgeBatchSize must be a positive whole number, got 0/);
    assert.throws(() => createControlPlane({ logger, recordPurgeIntervalMs: -1 }), /recordPurgeIntervalMs must be a positive whole number/);
  });
});

describe("a running control plane (h2c + HTTP/1.1 on one port)", () => {
  let cp: ControlPlane;
  let h2: TestH2Transport;
  let gw: GatewayKeyFixture;
  before(async () => {
    cp = createControlPlane({ listen, databaseUrl: t.url, logger });
    await cp.start();
    h2 = createTestH2Transport(cp.url);
    gw = await insertGatewayKey(t.db);
  });
  after(async () => {
    h2?.close();
    await cp?.shutdown();
  });

  it("listens on an ephemeral port", () => {
    assert.match(cp.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(cp.url).port, "7080");
  });

  it("has no TLS files to reload", async () => {
    await assert.rejects(cp.reloadTls(), { message: "this control plane serves no TLS: it has no tls files to reload" });
  });

  const http1Cases = [
    { name: "GET /healthz", path: "/healthz", want: { status: 200, body: { status: "ok" } } },
    { name: "GET /readyz", path: "/readyz", want: { status: 200, body: { status: "ready" } } },
    { name: "unknown route", path: "/nope", want: { status: 404, body: { message: "Route not found." } } },
    { name: "unknown RPC path", path: "/weir.gateway.v1.Nope/Call", method: "POST", want: { status: 404, body: { message: "Route not found." } } },
    { name: "POST /healthz", path: "/healthz", method: "POST", want: { status: 405, body: { message: "Method not allowed." } } },
  ];
  for (const c of http1Cases) {
    it(`HTTP/1.1 ${c.name}`, async () => {
      const got = await get(cp.url + c.path, { method: c.method ?? "GET" });
      assert.equal(got.type, "application/json; charset=utf-8");
      assert.deepEqual({ status: got.status, body: JSON.parse(got.body) }, c.want);
      assert.equal(got.allow, c.want.status === 405 ? "GET, HEAD" : null);
    });
  }

  it("serves an RPC over h2c", async () => {
    const res = await h2.client(MCPConfigurator).getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) });
    assert.deepEqual(res.externalAuthMcpConfigs, []);
  });

  // Property: the same port also takes Connect over HTTP/1.1 (curl-friendly).
  it("serves an RPC over HTTP/1.1", async () => {
    const client = createClient(MCPConfigurator, createConnectTransport({ httpVersion: "1.1", baseUrl: cp.url }));
    const res = await client.getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) });
    assert.deepEqual(res.externalAuthMcpConfigs, []);
  });

  // Property: messages over 4 MiB are refused before any handler runs.
  it("rejects an RPC message over 4 MiB", async () => {
    const prompt = "x".repeat(4 * 1024 * 1024 + 1);
    await assert.rejects(
      h2.client(Recorder).recordPromptUsage({ interceptionId: "00000000-0000-0000-0000-000000000000", prompt }, { headers: gatewayHeaders(gw.key) }),
      (err: unknown) => ConnectError.from(err).code === Code.ResourceExhausted,
    );
  });

  it("exposes Prometheus metrics with the weir_controlplane_ prefix", async () => {
    await h2.client(MCPConfigurator).getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) });
    await h2.client(MCPConfigurator).getMCPServerConfigs({}, { headers: gatewayHeaders("wrong") }).catch(() => {});
    const got = await get(`${cp.url}/metrics`);
    assert.equal(got.status, 200);
    assert.match(got.type, /^text\/plain/);
    for (const want of [
      /^weir_controlplane_rpc_requests_total\{service="weir\.gateway\.v1\.MCPConfigurator",method="GetMCPServerConfigs",code="ok"\} \d+$/m,
      /^weir_controlplane_rpc_requests_total\{service="weir\.gateway\.v1\.MCPConfigurator",method="GetMCPServerConfigs",code="unauthenticated"\} \d+$/m,
      /^weir_controlplane_rpc_duration_seconds_bucket\{/m,
      /^# TYPE weir_controlplane_records_written_total counter$/m,
      /^weir_controlplane_process_cpu_seconds_total /m,
    ]) {
      assert.match(got.body, want);
    }
    for (const line of got.body.split("\n")) if (line && !line.startsWith("#")) assert.match(line, /^weir_controlplane_/);
  });

  // Property: the admin API is mounted under /api/v2/ on the same port, counted in /metrics,
  // and a gateway key it creates and deletes is honoured and refused by the RPC server.
  it("mounts the admin API", async () => {
    assert.equal((await get(`${cp.url}/api/v2/users`)).status, 401);
    const owner = await insertUser(t.db, { role: "owner" });
    const { key } = await insertApiKey(t.db, owner.id);
    const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const created = await fetch(`${cp.url}/api/v2/ai-gateway/keys`, { method: "POST", headers: auth, body: JSON.stringify({ name: `admin-${randomBytes(3).toString("hex")}` }) });
    assert.equal(created.status, 201);
    const body = (await created.json()) as { id: string; key: string };
    const call = () => h2.client(Authorizer).isAuthorized({ key }, { headers: gatewayHeaders(body.key) });
    assert.equal((await call()).ownerId, owner.id);
    assert.equal((await fetch(`${cp.url}/api/v2/ai-gateway/keys/${body.id}`, { method: "DELETE", headers: auth })).status, 204);
    await assert.rejects(call(), (err: unknown) => ConnectError.from(err).code === Code.Unauthenticated);
    assert.match((await get(`${cp.url}/metrics`)).body, /^weir_controlplane_admin_requests_total\{/m);
  });

  it("hands out an in-process transport that needs no gateway key", async () => {
    const client = createClient(MCPConfigurator, cp.createInProcessTransport());
    assert.deepEqual((await client.getMCPServerConfigs({})).externalAuthMcpConfigs, []);
  });
});

/**
 * Opens a connection with `open`, starts an HTTP/1.1 request and trickles header lines: the
 * control plane must answer 408 and close it once http1HeadersTimeoutMs (1.5 s here) passed,
 * while serving a prompt client (`prompt`) meanwhile.
 */
async function assertTrickledHeadersCut(open: () => Duplex, prompt: () => Promise<number>): Promise<void> {
  const socket = open();
  let received = "";
  socket.on("data", (d: Buffer) => (received += d.toString()));
  socket.on("error", () => undefined);
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
  const started = Date.now();
  socket.write("GET /healthz HTTP/1.1\r\nHost: cp\r\n");
  const trickle = setInterval(() => socket.write("X-Slow: 1\r\n"), 200);
  try {
    assert.equal(await prompt(), 200);
    const at = await closed;
    assert.ok(at - started >= 1_500, `closed after ${at - started} ms`);
    assert.match(received, /^HTTP\/1\.1 408 /);
  } finally {
    clearInterval(trickle);
    socket.destroy();
  }
}

describe("a client trickling its HTTP/1.1 headers", () => {
  // Property: the idle timeout restarts at every byte, so a header line now and then held a
  // socket for good; the headers must all arrive within http1HeadersTimeoutMs.
  it("is answered 408 and disconnected after the headers timeout, while a prompt client is served", { timeout: 20_000 }, async () => {
    const cp = createControlPlane({ listen, databaseUrl: t.url, logger, http1HeadersTimeoutMs: 1_500 });
    await cp.start();
    try {
      const { hostname, port } = new URL(cp.url);
      await assertTrickledHeadersCut(() => netConnect(Number(port), hostname), async () => (await fetch(`${cp.url}/healthz`)).status);
    } finally {
      await cp.shutdown();
    }
  });
});

describe("/readyz", () => {
  // Property: readiness follows the database; liveness does not.
  it("turns 503 when the database goes away, logging it once however often it is probed", async () => {
    const name = `weir_ready_${randomBytes(4).toString("hex")}`;
    await createDatabase(t.serverUrl, name);
    const { logger: captured, lines } = captureLogger("warn");
    const cp = createControlPlane({ listen, databaseUrl: databaseUrl(t.serverUrl, name), logger: captured });
    await cp.start();
    try {
      assert.equal((await get(`${cp.url}/readyz`)).status, 200);
      await dropDatabase(t.serverUrl, name);
      const got = await get(`${cp.url}/readyz`);
      assert.deepEqual([got.status, JSON.parse(got.body)], [503, { status: "not ready", message: "database unavailable" }]);
      for (let i = 0; i < 4; i++) assert.equal((await get(`${cp.url}/readyz`)).status, 503);
      const notAnswering = lines().filter((l) => l.msg === "database not answering");
      assert.equal(notAnswering.length, 1, JSON.stringify(lines()));
      assert.equal(typeof notAnswering[0]?.err, "string", "one line, no stack");
      assert.equal((await get(`${cp.url}/healthz`)).status, 200);
    } finally {
      await cp.shutdown();
      await dropDatabase(t.serverUrl, name);
    }
  });
});

describe("the admin API's own pool", () => {
  // Property: admin requests stuck in the database (here: behind a lock, as behind a slow scan)
  // hold at most the admin pool's few connections, so gateways' RPCs still get theirs; and the
  // statement timeout cancels them with a 503 instead of letting them pile up.
  it("keeps RPCs served while admin requests are stuck, and times the stuck ones out with 503", async () => {
    const name = `weir_adminpool_${randomBytes(4).toString("hex")}`;
    await createDatabase(t.serverUrl, name, process.env.WEIR_TEST_TEMPLATE_DB);
    const url = databaseUrl(t.serverUrl, name);
    const cp = createControlPlane({ listen, databaseUrl: url, logger, adminStatementTimeoutMs: 3_000 });
    await cp.start();
    const h2 = createTestH2Transport(cp.url);
    try {
      const db = cp.db;
      const owner = await bootstrapOwner(db, { username: "owner" });
      const gw = await insertGatewayKey(db);
      const user = await insertUser(db);
      const apiKey = await insertApiKey(db, user.id);
      await db.connection().execute(async (locker) => {
        await sql`BEGIN`.execute(locker);
        await sql`LOCK TABLE aibridge_interceptions IN ACCESS EXCLUSIVE MODE`.execute(locker);
        try {
          // More stuck admin requests than the whole main pool (20) has connections.
          const stuck = Array.from({ length: 25 }, () =>
            get(`${cp.url}/api/v2/ai-gateway/interceptions`, { headers: { authorization: `Bearer ${owner.key}` } }),
          );
          await new Promise((r) => setTimeout(r, 500));
          const answer = await h2.client(Authorizer).isAuthorized({ key: apiKey.key }, { headers: gatewayHeaders(gw.key), timeoutMs: 2_000 });
          assert.equal(answer.ownerId, user.id);
          const answers = await Promise.all(stuck);
          assert.ok(answers.every((a) => a.status === 503), answers.map((a) => a.status).join(","));
          const bodies = new Set(answers.map((a) => a.body));
          assert.ok(bodies.has(JSON.stringify({ message: "The request took too long. Narrow it down with filters or a smaller limit." })), [...bodies].join(" | "));
        } finally {
          await sql`ROLLBACK`.execute(locker);
        }
      });
      const after = await get(`${cp.url}/api/v2/ai-gateway/interceptions`, { headers: { authorization: `Bearer ${owner.key}` } });
      assert.equal(after.status, 200);
    } finally {
      h2.close();
      await cp.shutdown();
      await dropDatabase(t.serverUrl, name);
    }
  });
});

describe("shutdown", () => {
  // Property: idle HTTP/2 sessions and HTTP/1.1 keep-alive sockets are closed, well before the
  // drain deadline, and shutdown may be called any number of times.
  it("closes idle connections and is idempotent", async () => {
    const cp = createControlPlane({ listen, databaseUrl: t.url, logger, drainTimeoutMs: 30_000 });
    await cp.start();
    const url = cp.url;
    const session = http2.connect(url);
    const sessionClosed = new Promise<void>((resolve) => session.once("close", () => resolve()));
    session.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      const req = session.request({ ":path": "/healthz" });
      req.on("error", reject);
      req.on("data", () => {});
      req.on("end", () => resolve());
      req.end();
    });
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http.get(`${url}/healthz`, { agent }, (res) => {
        res.resume();
        res.on("end", () => resolve());
      }).on("error", reject);
    });
    const started = Date.now();
    await Promise.all([cp.shutdown(), cp.shutdown()]);
    await cp.shutdown();
    await sessionClosed;
    assert.ok(Date.now() - started < 10_000, "drained without waiting for the deadline");
    agent.destroy();
    await assert.rejects(fetch(`${url}/healthz`));
    await assert.rejects(cp.start(), /shut down/);
  });

  it("is a no-op before start", async () => {
    const cp = createControlPlane({ listen, databaseUrl: t.url, logger });
    await cp.shutdown();
    await cp.shutdown();
  });
});

describe("TLS", () => {
  let dir: string;
  let cp: ControlPlane;
  let ca: Buffer;
  let h2: TestH2Transport;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "weir-tls-"));
    const [certFile, keyFile] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    await promisify(execFile)("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyFile, "-out", certFile,
    ]);
    ca = await readFile(certFile);
    cp = createControlPlane({ listen, databaseUrl: t.url, logger, tls: { certFile, keyFile }, http1HeadersTimeoutMs: 1_500 });
    await cp.start();
    h2 = createTestH2Transport(cp.url, { ca });
  });
  after(async () => {
    h2?.close();
    await cp?.shutdown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // Property: with TLS one port still serves h2 (ALPN) RPCs and HTTP/1.1 probes.
  it("serves RPC over h2 and probes over HTTP/1.1", async () => {
    assert.match(cp.url, /^https:\/\//);
    const gw = await insertGatewayKey(t.db);
    const res = await h2.client(MCPConfigurator).getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) });
    assert.deepEqual(res.externalAuthMcpConfigs, []);
    const status = await new Promise<number>((resolve, reject) => {
      https.get(`${cp.url}/healthz`, { ca, agent: false }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      }).on("error", reject);
    });
    assert.equal(status, 200);
  });

  it("cuts off an HTTP/1.1 client trickling its headers as without TLS", { timeout: 20_000 }, async () => {
    const { hostname, port } = new URL(cp.url);
    const healthz = () =>
      new Promise<number>((resolve, reject) => {
        https.get(`${cp.url}/healthz`, { ca, agent: false }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        }).on("error", reject);
      });
    await assertTrickledHeadersCut(() => tlsConnect({ port: Number(port), host: hostname, ca, ALPNProtocols: ["http/1.1"] }), healthz);
  });
});
