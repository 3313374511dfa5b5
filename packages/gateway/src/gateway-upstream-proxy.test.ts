// The egress proxy (upstream-proxy.ts) through a real gateway, the real emulator as provider and a
// real CONNECT proxy (testing/connect-proxy.ts) that alone knows where the provider's host name
// "llm.upstream.test" points, as in a network whose only way out is the proxy: requests go
// through a tunnel with the proxy's credentials, which never reach the provider nor a log line;
// NO_PROXY hosts and loopback addresses are reached directly; a proxy that refuses or is gone is
// a 502 "upstream connection failed", the reason logged.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { InvalidGatewayOptionsError } from "./options.js";
import { Gateway } from "./gateway.js";
import { eventually, send, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness, HarnessOptions } from "./test-harness.js";
import { ConnectProxy } from "./testing/index.js";

const UPSTREAM_HOST = "llm.upstream.test";
const CREDENTIALS = "weir-egress:pr0xy-s3cret";
const CHAT = { model: "gpt-4o", messages: [{ role: "user", content: "through the proxy" }] };
const MESSAGE = { model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "through the proxy" }] };

const open: { close(): Promise<void> }[] = [];
after(async () => {
  for (const o of open.reverse()) await o.close();
});

async function proxy(credentials?: string): Promise<ConnectProxy> {
  const p = new ConnectProxy({ credentials, hosts: { [UPSTREAM_HOST]: "127.0.0.1" } });
  await p.start();
  open.push({ close: () => p.stop() });
  return p;
}

async function harness(options: HarnessOptions): Promise<Harness> {
  const h = await startHarness(options);
  open.push(h);
  return h;
}

/** The proxy URL with credentials in it. */
const withCredentials = (url: string, credentials: string) => url.replace("http://", `http://${credentials}@`);

const chat = (h: Harness) => send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body: CHAT });

describe("egress proxy", () => {
  it("sends provider requests through a CONNECT tunnel with the proxy's credentials, keeps the tunnel alive, and records as usual", async () => {
    const p = await proxy(CREDENTIALS);
    const h = await harness({ upstreamHost: UPSTREAM_HOST, gateway: { upstreamProxy: { httpProxy: withCredentials(p.url, CREDENTIALS) } } });
    const first = await chat(h);
    assert.equal(first.status, 200, first.text);
    assert.equal((await chat(h)).status, 200);
    const anthropic = await send(`${h.gateway.url}/anthropic/v1/messages`, { headers: { "x-api-key": h.user.key, "anthropic-version": "2023-06-01" }, body: MESSAGE });
    assert.equal(anthropic.status, 200, anthropic.text);
    const port = h.emulator.port;
    // One tunnel to the provider's host:port, kept alive for all three requests (the same origin).
    assert.deepEqual(p.connects, [{ target: `${UPSTREAM_HOST}:${port}`, proxyAuthorization: `Basic ${Buffer.from(CREDENTIALS).toString("base64")}`, status: 200 }]);
    // The provider sees the request as sent directly: its own host, the central key, nothing of the proxy.
    const received = h.emulator.requests;
    assert.equal(received.length, 3);
    for (const r of received) {
      assert.equal(r.headers.host, `${UPSTREAM_HOST}:${port}`);
      assert.equal(r.headers["proxy-authorization"], undefined);
      assert.equal(r.headers["proxy-connection"], undefined);
    }
    await waitForEnded(h, 3);
    assert.equal(h.cp.ended.length, 3);
    const [starting] = h.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "gateway starting");
    assert.equal(starting.http_proxy, `http://***@${new URL(p.url).host}`);
    assert.equal(starting.https_proxy, undefined);
    assert.ok(!h.logs.join("\n").includes("pr0xy-s3cret"), "the proxy password was logged");
  });

  it("sends a user name without a password as Go does (\"user:\")", async () => {
    const p = await proxy("only-a-token:");
    const h = await harness({ upstreamHost: UPSTREAM_HOST, gateway: { upstreamProxy: { httpProxy: withCredentials(p.url, "only-a-token") } } });
    assert.equal((await chat(h)).status, 200);
    assert.deepEqual(p.connects.map((c) => c.status), [200]);
  });

  it("reaches loopback providers directly, and hosts NO_PROXY names without the proxy", async () => {
    const p = await proxy();
    const loopback = await harness({ gateway: { upstreamProxy: { httpProxy: p.url } } });
    assert.equal((await chat(loopback)).status, 200);
    assert.deepEqual(p.connects, [], "127.0.0.1 never goes through a proxy");

    // Named in NO_PROXY: the gateway resolves the name itself, which only the proxy could here.
    const bypassed = await harness({ upstreamHost: UPSTREAM_HOST, gateway: { upstreamProxy: { httpProxy: p.url, noProxy: "internal.example, .upstream.test" } } });
    const res = await chat(bypassed);
    assert.equal(res.status, 502);
    assert.equal((res.json as { error: { message: string } }).error.message, "upstream connection failed");
    assert.deepEqual(p.connects, []);
    assert.match(bypassed.logs.join("\n"), /(ENOTFOUND|EAI_AGAIN) llm\.upstream\.test/);
  });

  it("answers 502 when the proxy refuses the tunnel or cannot be reached, logging why", async () => {
    const p = await proxy(CREDENTIALS);
    const refused = await harness({ upstreamHost: UPSTREAM_HOST, gateway: { upstreamProxy: { httpProxy: withCredentials(p.url, "weir-egress:wrong") } } });
    const res = await chat(refused);
    assert.equal(res.status, 502);
    assert.equal((res.json as { error: { message: string } }).error.message, "upstream connection failed");
    assert.equal(p.connects[0]?.status, 407);
    assert.match(refused.logs.join("\n"), /upstream connection failed: Proxy response \(407\) !== 200 when HTTP Tunneling/);
    assert.equal(refused.emulator.requests.length, 0);
    await waitForEnded(refused, 1);
    assert.deepEqual([refused.cp.ended[0]?.errorType, refused.cp.ended[0]?.errorMessage], ["upstream_disconnected", "upstream connection failed: Proxy response (407) !== 200 when HTTP Tunneling"]);

    const url = p.url;
    await p.stop();
    const gone = await harness({ upstreamHost: UPSTREAM_HOST, gateway: { upstreamProxy: { httpProxy: url } } });
    const down = await chat(gone);
    assert.equal(down.status, 502);
    assert.match(gone.logs.join("\n"), /upstream connection failed: connect ECONNREFUSED/);
  });

  it("gives up on a proxy that never answers the CONNECT after the tunnel timeout, as a connection failure that is retried", async () => {
    const p = new ConnectProxy({ hosts: { [UPSTREAM_HOST]: "127.0.0.1" }, answers: false });
    await p.start();
    open.push({ close: () => p.stop() });
    const h = await harness({ upstreamHost: UPSTREAM_HOST, gateway: { upstreamMaxRetries: 1, upstreamProxy: { httpProxy: p.url, tunnelTimeoutMs: 300 } } });
    const res = await chat(h);
    assert.equal(res.status, 502);
    assert.equal((res.json as { error: { message: string } }).error.message, "upstream connection failed");
    const target = `${UPSTREAM_HOST}:${h.emulator.port}`;
    // Retried once, as a connection that could not be made in time is.
    assert.deepEqual(p.unanswered, [target, target]);
    assert.equal(h.emulator.requests.length, 0);
    const why = `upstream connection failed: the egress proxy ${p.url} did not answer the CONNECT for ${target} within 0.3 s`;
    await waitForEnded(h, 1);
    assert.deepEqual([h.cp.ended[0]?.errorType, h.cp.ended[0]?.errorMessage], ["upstream_disconnected", why]);
    assert.ok(h.logs.join("\n").includes(why), h.logs.join("\n"));
  });

  it("asks for tunnels side by side: one silent CONNECT holds up no other", async () => {
    const p = new ConnectProxy({ hosts: { [UPSTREAM_HOST]: "127.0.0.1" }, answers: false });
    await p.start();
    let stopped = false;
    open.push({ close: () => (stopped ? Promise.resolve() : p.stop()) });
    const h = await harness({ upstreamHost: UPSTREAM_HOST, gateway: { upstreamProxy: { httpProxy: p.url, tunnelTimeoutMs: 30_000 } } });
    const requests = [chat(h), chat(h), chat(h)];
    // All three CONNECTs reach the proxy while it answers none (asked one at a time, the
    // second would wait for the first's 30 s).
    await eventually(async () => p.unanswered.length === 3, 10_000, "three CONNECTs at once");
    await p.stop();
    stopped = true;
    assert.deepEqual((await Promise.all(requests)).map((r) => r.status), [502, 502, 502]);
  });

  it("refuses proxy settings that cannot work, naming the option and never the credentials", () => {
    const refused = (upstreamProxy: { httpProxy?: string; httpsProxy?: string; tunnelTimeoutMs?: number }) => {
      try {
        new Gateway({ controlPlaneUrl: "http://127.0.0.1:1", gatewayKey: "k", upstreamProxy });
      } catch (err) {
        assert.ok(err instanceof InvalidGatewayOptionsError);
        return err.message;
      }
      return "accepted";
    };
    assert.equal(refused({ httpsProxy: "socks5://proxy.internal:1080" }), "upstreamProxy.httpsProxy must be an http:// or https:// URL, not socks5://…");
    assert.equal(refused({ httpProxy: "http://user:secret@proxy.internal:3128/path" }), "upstreamProxy.httpProxy must be the proxy's address alone (scheme, host, port), without a path or query");
    assert.equal(refused({ httpProxy: "http://" }), "upstreamProxy.httpProxy is not a URL: give it as http://host:port");
    assert.equal(refused({ httpProxy: "proxy.internal:3128", httpsProxy: " " }), "accepted", "a bare host:port is http://; an empty value is none");
    assert.equal(refused({ httpProxy: "proxy.internal:3128", tunnelTimeoutMs: 0 }), "upstreamProxy.tunnelTimeoutMs must be above 0 and at most 2147483647 ms, got 0");
  });
});
