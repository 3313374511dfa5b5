// ControlPlaneOptions.mounts: extra handlers owning path prefixes on the control plane's one
// address, for HTTP/1.1 and HTTP/2 (h2c) requests alike — matched after the probes, before the
// admin API and RPC — with a synchronous throw contained to its request, the HTTP/1.1 idle
// timeout lifted for mounted (possibly very long) requests, and bad mounts refused up front.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import pino from "pino";
import { InvalidMountError, createControlPlane, type ControlPlane, type HttpRequest, type HttpResponse } from "./index.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

const logger = pino({ level: "silent" });

let t: TestDatabase;
let cp: ControlPlane;
const seen: { path: string | undefined; httpVersionMajor: number; socketTimeout: number | undefined }[] = [];

function reply(res: HttpResponse, status: number, body: string): void {
  // Both response kinds take writeHead(status, headers) and end(body).
  const r = res as unknown as { writeHead(status: number, headers: Record<string, string>): unknown; end(body: string): unknown };
  r.writeHead(status, { "content-type": "text/plain" });
  r.end(body);
}

function mounted(req: HttpRequest, res: HttpResponse): void {
  seen.push({ path: req.url, httpVersionMajor: req.httpVersionMajor, socketTimeout: req.httpVersionMajor === 1 ? (req.socket as { timeout?: number }).timeout : undefined });
  if (req.url?.endsWith("/throw")) throw new Error("mounted handler bug");
  reply(res, 200, `mounted ${req.method} ${req.url}`);
}

before(async () => {
  t = await createTestDatabase();
  cp = createControlPlane({
    listen: { host: "127.0.0.1", port: 0 },
    databaseUrl: t.url,
    logger,
    mounts: [{ prefixes: ["/api/v2/ai-gateway/openai/", "/api/v2/ai-gateway/anthropic/"], handler: mounted }],
  });
  await cp.start();
});
after(async () => {
  await cp?.shutdown();
  await t?.drop();
});

describe("mounted handlers", () => {
  // Property: a path under a prefix goes to the mount, over HTTP/1.1, with the idle timeout lifted.
  it("serve HTTP/1.1 requests under their prefixes", async () => {
    seen.length = 0;
    const res = await fetch(`${cp.url}/api/v2/ai-gateway/openai/v1/chat/completions?x=1`, { method: "POST", body: "{}" });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "mounted POST /api/v2/ai-gateway/openai/v1/chat/completions?x=1");
    assert.deepEqual(seen, [{ path: "/api/v2/ai-gateway/openai/v1/chat/completions?x=1", httpVersionMajor: 1, socketTimeout: 0 }]);
  });

  // Property: HTTP/2 with prior knowledge reaches the same handler as a compat request.
  it("serve HTTP/2 (h2c) requests too", async () => {
    seen.length = 0;
    const session = http2.connect(cp.url);
    try {
      const stream = session.request({ ":method": "GET", ":path": "/api/v2/ai-gateway/anthropic/v1/models" });
      stream.end();
      const status = await new Promise<number>((resolve) => stream.once("response", (h) => resolve(Number(h[":status"]))));
      let body = "";
      for await (const chunk of stream) body += (chunk as Buffer).toString("utf8");
      assert.equal(status, 200);
      assert.equal(body, "mounted GET /api/v2/ai-gateway/anthropic/v1/models");
      assert.equal(seen[0]?.httpVersionMajor, 2);
    } finally {
      session.close();
    }
  });

  // Property: everything else keeps its owner — probes, the admin API (also under
  // /api/v2/ai-gateway/), and the prefix itself without its trailing slash.
  const cases = [
    { name: "probe", path: "/healthz", status: 200 },
    { name: "admin API next to the mount", path: "/api/v2/ai-gateway/keys", status: 401 },
    { name: "prefix without its trailing slash", path: "/api/v2/ai-gateway/openai", status: 404 },
    { name: "a dot segment does not reach the mount", path: "/api/v2/ai-gateway/openai/../keys", status: 401 },
  ];
  for (const tc of cases) {
    it(`leave other paths alone: ${tc.name}`, async () => {
      seen.length = 0;
      const res = await fetch(`${cp.url}${tc.path}`);
      await res.text();
      assert.equal(res.status, tc.status);
      assert.equal(seen.length, 0);
    });
  }

  // Property: a handler that throws fails its own request with a 500; the daemon serves on.
  it("contain a synchronous throw to its request", async () => {
    const res = await fetch(`${cp.url}/api/v2/ai-gateway/openai/throw`);
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { message: "Internal error." });
    assert.equal((await fetch(`${cp.url}/api/v2/ai-gateway/openai/ok`)).status, 200);
  });

  // Property: unusable mounts are refused when the control plane is created.
  const invalid = [
    { name: "no prefixes", mount: { prefixes: [], handler: mounted } },
    { name: "the root prefix", mount: { prefixes: ["/"], handler: mounted } },
    { name: "a relative prefix", mount: { prefixes: ["api/"], handler: mounted } },
    { name: "no handler", mount: { prefixes: ["/x/"], handler: undefined as unknown as typeof mounted } },
  ];
  for (const tc of invalid) {
    it(`refuse ${tc.name}`, () => {
      assert.throws(() => createControlPlane({ logger, mounts: [tc.mount] }), InvalidMountError);
    });
  }
});
