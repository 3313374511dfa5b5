// The admin API's shared behaviour, independent of any one resource: owner-only access on every
// route, the error-body shape, JSON and size limits, routing (404/405), HTTP/1.1 and HTTP/2
// requests, and the request counter.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Registry } from "prom-client";
import { MAX_BODY_BYTES } from "./request-body.js";
import { callH2, startAdminHarness, type AdminHarness } from "./admin-test-harness.js";

let h: AdminHarness;
const registry = new Registry();
before(async () => {
  h = await startAdminHarness({ registry });
});
after(async () => {
  await h?.close();
});

const UNAUTHENTICATED = { message: "You must be authenticated to use this endpoint." };

describe("every route is owner-only", () => {
  // [method, path, body]; paths name real resources so refusals cannot be 404s in disguise.
  const routes = (): [string, string, unknown?][] => {
    const user = h.member.id;
    return [
      ["POST", "/api/v2/users", { username: "intruder" }],
      ["GET", "/api/v2/users"],
      ["GET", `/api/v2/users/${user}`],
      ["PATCH", `/api/v2/users/${user}`, { role: "owner" }],
      ["DELETE", `/api/v2/users/${user}`],
      ["POST", `/api/v2/users/${user}/keys`, {}],
      ["GET", `/api/v2/users/${user}/keys`],
      ["DELETE", `/api/v2/users/${user}/keys/abcdefghij`],
      ["PUT", `/api/v2/users/${user}/mcp-tokens/github`, { access_token: "t" }],
      ["DELETE", `/api/v2/users/${user}/mcp-tokens/github`],
      ["POST", "/api/v2/ai-gateway/keys", { name: "intruder" }],
      ["GET", "/api/v2/ai-gateway/keys"],
      ["DELETE", `/api/v2/ai-gateway/keys/${randomUUID()}`],
      ["POST", "/api/v2/ai-gateway/mcp-servers", { id: "intruder", url: "https://x.example" }],
      ["GET", "/api/v2/ai-gateway/mcp-servers"],
      ["DELETE", "/api/v2/ai-gateway/mcp-servers/github"],
      ["GET", "/api/v2/ai-gateway/interceptions"],
      ["GET", `/api/v2/ai-gateway/interceptions/${randomUUID()}`],
    ];
  };
  it("answers a member 403 and an anonymous caller 401 on all 18 routes", async () => {
    const list = routes();
    assert.equal(list.length, 18);
    for (const [method, path, body] of list) {
      const member = await h.call(method, path, { token: h.member.key, body });
      assert.equal(member.status, 403, `${method} ${path}`);
      assert.deepEqual(member.json, { message: "Forbidden." });
      const anonymous = await h.call(method, path, { token: null, body });
      assert.equal(anonymous.status, 401, `${method} ${path}`);
      assert.deepEqual(anonymous.json, UNAUTHENTICATED);
      assert.equal(anonymous.headers.get("content-type"), "application/json");
    }
    const users = await h.call("GET", "/api/v2/users");
    assert.ok(!users.json.some((u: { username: string }) => u.username === "intruder"));
    assert.equal((await h.call("GET", `/api/v2/users/${h.member.id}`)).json.role, "member");
  });
});

describe("request bodies", () => {
  const big = (bytes: number) => {
    // Valid JSON of exactly `bytes` bytes (padded with whitespace), so only the size can be the problem.
    const prefix = '{"username":"big-body"';
    return prefix + " ".repeat(bytes - prefix.length - 1) + "}";
  };
  /** A body streamed in chunks without Content-Length, so the limit is found by counting. */
  const streamed = (text: string) => {
    const bytes = Buffer.from(text);
    let offset = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= bytes.length) return controller.close();
        controller.enqueue(bytes.subarray(offset, offset + 64 * 1024));
        offset += 64 * 1024;
      },
    });
  };
  const cases = [
    { name: "malformed JSON", raw: () => '{"username": ', want: 400, message: "Request body must be valid JSON.", detail: true },
    { name: "invalid UTF-8", raw: () => Buffer.from([0x7b, 0xff, 0x7d]), want: 400, message: "Request body must be valid JSON.", detail: "Request body is not valid UTF-8." },
    { name: "an empty body", raw: () => "", want: 400, message: "Request body must be a JSON object." },
    { name: "a JSON string", raw: () => '"alice"', want: 400, message: "Request body must be a JSON object." },
    { name: "1 MiB + 1 byte with Content-Length", raw: () => big(MAX_BODY_BYTES + 1), want: 413, message: "Request body too large." },
    { name: "1 MiB + 1 byte streamed", raw: () => streamed(big(MAX_BODY_BYTES + 1)), want: 413, message: "Request body too large." },
    { name: "8 MiB streamed", raw: () => streamed(big(8 * MAX_BODY_BYTES)), want: 413, message: "Request body too large." },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.want}`, async () => {
      const res = await h.call("POST", "/api/v2/users", { raw: c.raw(), headers: { "content-type": "application/json" } });
      assert.equal(res.status, c.want);
      assert.equal(res.json.message, c.message);
      if (c.detail === true) assert.equal(typeof res.json.detail, "string");
      else if (c.detail !== undefined) assert.equal(res.json.detail, c.detail);
      else assert.ok(!("detail" in res.json));
      if (c.want === 413) assert.equal(res.headers.get("connection"), "close");
    });
  }
  it("accepts a body of exactly 1 MiB", async () => {
    const res = await h.call("POST", "/api/v2/users", { raw: big(MAX_BODY_BYTES), headers: { "content-type": "application/json" } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.username, "big-body");
  });
  it("refuses 1 MiB + 1 byte over HTTP/2 with 413", async () => {
    const res = await callH2(h.h2Url, "POST", "/api/v2/users", { token: h.owner.key, raw: big(MAX_BODY_BYTES + 1) });
    assert.equal(res.status, 413);
    assert.deepEqual(res.json, { message: "Request body too large." });
  });
  it("keeps serving after refusing large bodies", async () => {
    assert.equal((await h.call("GET", "/api/v2/users")).status, 200);
  });
});

describe("routing", () => {
  const cases = [
    { name: "unknown route", method: "GET", path: "/api/v2/nope", want: 404, body: { message: "Route not found." } },
    { name: "unknown route, no credential", method: "GET", path: "/api/v2/nope", token: null, want: 404, body: { message: "Route not found." } },
    { name: "too deep", method: "GET", path: "/api/v2/users/x/keys/y/z", want: 404, body: { message: "Route not found." } },
    { name: "trailing slash", method: "GET", path: "/api/v2/users/", want: 404, body: { message: "Route not found." } },
    { name: "outside /api/v2/", method: "GET", path: "/healthz", want: 404, body: { message: "Route not found." } },
    { name: "bad percent-encoding", method: "GET", path: "/api/v2/users/%E0%A4%A", want: 404, body: { message: "Route not found." } },
    { name: "PUT on the keys collection", method: "PUT", path: "/api/v2/ai-gateway/keys", want: 405, allow: "GET, HEAD, POST", body: { message: "Method not allowed." } },
    { name: "GET on one key", method: "GET", path: `/api/v2/ai-gateway/keys/${randomUUID()}`, want: 405, allow: "DELETE", body: { message: "Method not allowed." } },
    { name: "POST on one user", method: "POST", path: `/api/v2/users/${randomUUID()}`, want: 405, allow: "DELETE, GET, HEAD, PATCH", body: { message: "Method not allowed." } },
    { name: "query strings do not affect routing", method: "GET", path: "/api/v2/ai-gateway/keys?x=1", want: 200 },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.want}`, async () => {
      const res = await h.call(c.method, c.path, { token: c.token === null ? null : h.owner.key });
      assert.equal(res.status, c.want);
      if (c.body) assert.deepEqual(res.json, c.body);
      if (c.allow) assert.equal(res.headers.get("allow"), c.allow);
    });
  }
});

describe("HTTP/2", () => {
  // The daemon hands HTTP/2 (h2c) requests to the same handler as compat objects.
  it("serves reads and writes over HTTP/2", async () => {
    const created = await callH2(h.h2Url, "POST", "/api/v2/users", { token: h.owner.key, body: { username: "over-h2" } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers["content-type"], "application/json");
    const got = await callH2(h.h2Url, "GET", `/api/v2/users/${created.json.id}`, { token: h.owner.key });
    assert.equal(got.status, 200);
    assert.equal(got.json.username, "over-h2");
    const refused = await callH2(h.h2Url, "GET", "/api/v2/users", { token: h.member.key });
    assert.equal(refused.status, 403);
    const malformed = await callH2(h.h2Url, "POST", "/api/v2/users", { token: h.owner.key, raw: "{" });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.message, "Request body must be valid JSON.");
  });
});

describe("metrics", () => {
  it("counts requests by route pattern, method and status", async () => {
    await h.call("GET", `/api/v2/users/${h.member.id}`);
    await h.call("DELETE", `/api/v2/ai-gateway/keys/${randomUUID()}`);
    await h.call("GET", "/api/v2/definitely/not/here");
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === "weir_controlplane_admin_requests_total");
    assert.ok(metric);
    const count = (labels: Record<string, string>) =>
      (metric.values as { labels: Record<string, string>; value: number }[]).find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
    assert.ok(count({ route: "/api/v2/users/{id}", method: "GET", status: "200" }) >= 1);
    assert.ok(count({ route: "/api/v2/ai-gateway/keys/{id}", method: "DELETE", status: "404" }) >= 1);
    assert.ok(count({ route: "unmatched", method: "GET", status: "404" }) >= 1);
    for (const v of metric.values as { labels: Record<string, string> }[]) assert.ok(!String(v.labels.route).includes(h.member.id), "raw path used as a label");
  });
});

describe("request log", () => {
  // SECURITY: a full key sent where an id belongs (e.g. `weir tokens delete <key>`) is logged by
  // its id or prefix only, on any route, matched or not, authenticated or not.
  it("masks full keys in the logged path", async () => {
    const [memberId, memberSecret] = h.member.key.split("-") as [string, string];
    const gatewayKey = `wgk_${"Ab1".repeat(13)}`;
    const requests: [string, string, string | null][] = [
      ["DELETE", `/api/v2/users/${h.member.id}/keys/${h.member.key}`, h.owner.key],
      ["DELETE", `/api/v2/users/${h.member.id}/keys/${h.member.key}`, null],
      ["GET", `/api/v2/not-a-route/${h.member.key}`, h.owner.key],
      ["DELETE", `/api/v2/ai-gateway/keys/${gatewayKey}`, h.owner.key],
    ];
    for (const [method, path, token] of requests) {
      const before = h.logs.length;
      const res = await h.call(method, path, { token });
      assert.ok(res.status >= 400, `${method} ${path}: ${res.status}`);
      const lines = h.logs.slice(before).join("");
      assert.match(lines, /"msg":"admin request"/);
      assert.ok(!lines.includes(memberSecret) && !lines.includes(gatewayKey.slice(11)), `a secret reached the log: ${lines}`);
    }
    const all = h.logs.join("");
    assert.ok(all.includes(`"path":"/api/v2/users/${h.member.id}/keys/${memberId}-***"`));
    assert.ok(all.includes(`"path":"/api/v2/ai-gateway/keys/${gatewayKey.slice(0, 11)}***"`));
    // Ordinary paths are logged as they are.
    await h.call("GET", `/api/v2/users/${h.member.id}`);
    assert.ok(h.logs.join("").includes(`"path":"/api/v2/users/${h.member.id}"`));
  });
});

describe("refused keys in the log", () => {
  it("name the key's id and why, never its secret", async () => {
    const [memberId, memberSecret] = h.member.key.split("-") as [string, string];
    const cases: [string, string, Record<string, string>][] = [
      ["a wrong secret", `${memberId}-${"x".repeat(22)}`, { reason: "invalid_key", api_key_id: memberId }],
      ["an unknown key", `zzzzzzzzzz-${memberSecret}`, { reason: "unknown_key", api_key_id: "zzzzzzzzzz" }],
      ["something else", "not-a-key", { reason: "invalid_key" }],
    ];
    for (const [name, token, want] of cases) {
      const before = h.logs.length;
      assert.equal((await h.call("GET", "/api/v2/users", { token })).status, 401, name);
      const line = h.logs.slice(before).join("").split("\n").find((l) => l.includes('"admin request not authenticated"'));
      assert.ok(line !== undefined, name);
      const logged = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual({ reason: logged.reason, api_key_id: logged.api_key_id }, { api_key_id: undefined, ...want }, name);
      assert.ok(!line.includes(memberSecret), `${name}: the secret was logged`);
    }
  });
});

describe("HEAD", () => {
  // RFC 9110 §9.3.2: HEAD is GET without the body, wherever GET is served.
  const paths = () => ["/api/v2/users", `/api/v2/users/${h.member.id}`, `/api/v2/users/${h.member.id}/keys`, "/api/v2/ai-gateway/keys", "/api/v2/ai-gateway/interceptions"];
  it("answers like GET without a body, over HTTP/1.1 and HTTP/2", async () => {
    for (const path of paths()) {
      const get = await h.call("GET", path);
      const head = await h.call("HEAD", path);
      assert.equal(head.status, 200, path);
      assert.equal(head.text, "");
      for (const name of ["content-type", "content-length", "cache-control"]) assert.equal(head.headers.get(name), get.headers.get(name), `${path} ${name}`);
      const head2 = await callH2(h.h2Url, "HEAD", path, { token: h.owner.key });
      assert.equal(head2.status, 200, path);
      assert.equal(head2.text, "");
      assert.equal(head2.headers["content-length"], get.headers.get("content-length"));
    }
  });
  it("answers errors like GET: 401, 403, 404, 400", async () => {
    const cases: [string, string | null][] = [
      ["/api/v2/users", null],
      ["/api/v2/users", h.member.key],
      [`/api/v2/users/${randomUUID()}`, h.owner.key],
      ["/api/v2/users/nope", h.owner.key],
      ["/api/v2/ai-gateway/interceptions?limit=0", h.owner.key],
    ];
    for (const [path, token] of cases) {
      const get = await h.call("GET", path, { token });
      const head = await h.call("HEAD", path, { token });
      assert.equal(head.status, get.status, path);
      assert.ok(get.status >= 400);
      assert.equal(head.text, "");
      assert.equal(head.headers.get("content-length"), get.headers.get("content-length"));
    }
  });
  it("is 405 where GET is not served", async () => {
    const res = await h.call("HEAD", `/api/v2/ai-gateway/keys/${randomUUID()}`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "DELETE");
  });
});
