// The gateway key is checked before an RPC's body is read, on a real control plane: a request
// without a known key is refused at once (its body never awaited, so never parsed or inflated)
// in its own protocol's shape — Connect unary, Connect streaming, gRPC — with the interceptor's
// messages; compressed requests are not taken at all; unknown paths stay Connect's 404; and
// gateways with their key are served as before.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Authorizer, MCPConfigurator, Recorder } from "@weir/proto";
import pino from "pino";
import { createControlPlane, type ControlPlane } from "../index.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { createTestH2Transport, gatewayHeaders, insertGatewayKey, type GatewayKeyFixture, type TestH2Transport } from "../testing/rpc-fixtures.js";

let t: TestDatabase;
let cp: ControlPlane;
let h2: TestH2Transport;
let gw: GatewayKeyFixture;
before(async () => {
  t = await createTestDatabase();
  cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger: pino({ level: "silent" }) });
  await cp.start();
  h2 = createTestH2Transport(cp.url);
  gw = await insertGatewayKey(t.db);
});
after(async () => {
  h2?.close();
  await cp?.shutdown();
  await t?.drop();
});

async function refusal(call: Promise<unknown>): Promise<[string, string]> {
  try {
    await call;
    return ["OK", ""];
  } catch (err) {
    const e = ConnectError.from(err);
    return [Code[e.code]!, e.rawMessage];
  }
}

/**
 * An HTTP/2 POST to `path` whose headers announce `declaredBytes` of body, of which only the first
 * few bytes are ever sent: an answer can only come from a server that did not wait for the body.
 */
function postWithoutBody(path: string, headers: Record<string, string>, declaredBytes: number): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(cp.url);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path, "content-length": String(declaredBytes), ...headers });
    const chunks: Buffer[] = [];
    let status = 0;
    let contentType = "";
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      contentType = String(h["content-type"] ?? "");
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      session.close();
      resolve({ status, contentType, body: Buffer.concat(chunks).toString() });
    });
    stream.on("error", reject);
    stream.write('{"records":[');
  });
}

describe("the gateway key gate", () => {
  it("answers a unary RPC without a known key before its body arrives, as the interceptor would", { timeout: 10_000 }, async () => {
    const path = `/${Recorder.typeName}/${Recorder.method.recordBatch.name}`;
    const missing = await postWithoutBody(path, { "content-type": "application/json" }, 4 * 1024 * 1024);
    assert.deepEqual(missing, { status: 401, contentType: "application/json", body: JSON.stringify({ code: "unauthenticated", message: "AI Gateway key required." }) });
    const wrong = await postWithoutBody(path, { "content-type": "application/proto", "x-ai-governance-gateway-key": "wgk_nothing-like-a-real-key-000000000000" }, 4 * 1024 * 1024);
    assert.deepEqual(wrong, { status: 401, contentType: "application/json", body: JSON.stringify({ code: "unauthenticated", message: "AI Gateway key invalid." }) });
  });

  it("refuses in each protocol's shape: Connect unary and streaming, gRPC", async () => {
    const connect = h2.client(Authorizer);
    assert.deepEqual(await refusal(connect.isAuthorized({ key: "x" }, { headers: gatewayHeaders(null) })), ["Unauthenticated", "AI Gateway key required."]);
    const watch = async () => {
      for await (const _ of connect.watchAuthorizationChanges({}, { headers: gatewayHeaders("wgk_nothing-like-a-real-key-000000000000") }));
    };
    assert.deepEqual(await refusal(watch()), ["Unauthenticated", "AI Gateway key invalid."]);
    const grpc = createClient(MCPConfigurator, createGrpcTransport({ baseUrl: cp.url }));
    assert.deepEqual(await refusal(grpc.getMCPServerConfigs({}, { headers: gatewayHeaders(null) })), ["Unauthenticated", "AI Gateway key required."]);
  });

  it("serves a gateway with its key, over Connect and gRPC", async () => {
    assert.deepEqual((await h2.client(MCPConfigurator).getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) })).externalAuthMcpConfigs, []);
    const grpc = createClient(MCPConfigurator, createGrpcTransport({ baseUrl: cp.url }));
    assert.deepEqual((await grpc.getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) })).externalAuthMcpConfigs, []);
  });

  it("leaves unknown paths to Connect's 404", async () => {
    const res = await fetch(`${cp.url}/weir.gateway.v1.Nope/Call`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 404);
  });

  it("does not take compressed requests, even with a key", async () => {
    const res = await fetch(`${cp.url}/${MCPConfigurator.typeName}/${MCPConfigurator.method.getMCPServerConfigs.name}`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip", ...gatewayHeaders(gw.key) },
      body: new Uint8Array([0x1f, 0x8b, 0x08, 0x00]),
    });
    const body = (await res.json()) as { code: string };
    assert.equal(body.code, "unimplemented");
  });
});
