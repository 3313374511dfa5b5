// `weir gateway` behind an egress proxy, configured as operators configure one: HTTP_PROXY (with
// credentials) and NO_PROXY in its environment. The provider's host name is one only the proxy
// resolves, so a request the gateway sent directly would fail; the official OpenAI client talks
// to the gateway, the interception is recorded on the control plane (reached directly, not
// through the proxy), and the start-up log names the proxy without its password.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { ConnectProxy } from "@weir/gateway/testing";
import { logLines, recorded, runWeir, startStack, type Stack } from "./stack.js";

const HOST = "llm.egress.test";
const CREDENTIALS = "egress:s3cret-proxy-pass";

let stack: Stack;
let proxy: ConnectProxy;
before(async () => {
  stack = await startStack({ replicas: 0 });
  proxy = new ConnectProxy({ credentials: CREDENTIALS, hosts: { [HOST]: "127.0.0.1" } });
  await proxy.start();
});
after(async () => {
  await stack?.stop();
  await proxy?.stop();
});

describe("weir gateway with HTTP_PROXY", () => {
  it("reaches the provider through the proxy and records the interception on the control plane", async () => {
    const named = (url: string) => url.replace("127.0.0.1", HOST);
    const replica = await stack.startReplica(["--log-level", "info"], {
      HTTP_PROXY: proxy.url.replace("http://", `http://${CREDENTIALS}@`),
      NO_PROXY: "metadata.internal",
      WEIR_OPENAI_BASE_URL: named(stack.emulator.openaiBaseUrl),
      WEIR_ANTHROPIC_BASE_URL: named(stack.emulator.anthropicBaseUrl),
    });
    const client = new OpenAI({ baseURL: `${replica.url}/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "via the egress proxy" }] });
    assert.equal(completion.object, "chat.completion");

    assert.deepEqual(proxy.connects, [{ target: `${HOST}:${stack.emulator.port}`, proxyAuthorization: `Basic ${Buffer.from(CREDENTIALS).toString("base64")}`, status: 200 }]);
    const [interception] = await recorded(stack, (list) => list.length === 1 && list[0].ended_at !== null);
    assert.equal(interception.model, "gpt-4o-mini");

    const [starting] = logLines(replica.process, "gateway starting");
    assert.equal(starting.http_proxy, `http://***@${new URL(proxy.url).host}`);
    assert.equal(starting.no_proxy, "metadata.internal");
    assert.ok(!replica.process.output().includes("s3cret-proxy-pass"), "the proxy password was printed");
  });

  it("refuses a proxy it cannot use before starting, naming the variable", async () => {
    const gateway = runWeir(["gateway", "--listen", "127.0.0.1:0"], {
      WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
      WEIR_GATEWAY_KEY: stack.gatewayKey.key,
      HTTPS_PROXY: "socks5://egress:s3cret@proxy.internal:1080",
    });
    const { code } = await gateway.exited;
    assert.deepEqual({ code, out: gateway.output() }, { code: 1, out: "weir: HTTPS_PROXY must be an http:// or https:// URL, not socks5://…\n" });
  });
});
