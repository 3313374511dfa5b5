// `weir gateway` behind an egress proxy, configured as operators configure one: HTTP_PROXY (with
// credentials) and NO_PROXY in its environment. The provider's host name is one only the proxy
// resolves, so a request the gateway sent directly would fail; the official OpenAI client talks
// to the gateway, the interception is recorded on the control plane (reached directly, not
// through the proxy), and the start-up log names the proxy without its password. Then the
// common production case: an https:// provider behind an https:// proxy, both certificates
// issued by a private CA the gateway trusts through NODE_EXTRA_CA_CERTS, as operators set it.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { ConnectProxy } from "@weir/gateway/testing";
import { logLines, recorded, runWeir, startStack, type Stack } from "./stack.js";
import { makeTestCertificates } from "./tls-control-plane.js";

const HOST = "llm.egress.test";
const CREDENTIALS = "egress:s3cret-proxy-pass";

let stack: Stack;
let proxy: ConnectProxy;
const stops: (() => Promise<void>)[] = [];
before(async () => {
  stack = await startStack({ replicas: 0 });
  proxy = new ConnectProxy({ credentials: CREDENTIALS, hosts: { [HOST]: "127.0.0.1" } });
  await proxy.start();
});
after(async () => {
  await stack?.stop();
  await proxy?.stop();
  for (const stop of stops) await stop();
});

/**
 * The emulator behind TLS, as a provider's https:// endpoint is: connections are decrypted and
 * relayed to it. Notes the server name (SNI) each connection asked for.
 */
async function tlsFront(emulatorPort: number, cert: Buffer, key: Buffer): Promise<{ port: number; serverNames: string[] }> {
  const serverNames: string[] = [];
  const server = createTlsServer({ cert, key }, (client: TLSSocket) => {
    serverNames.push(client.servername || "(none)");
    const upstream = connect(emulatorPort, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not listening");
  return { port: address.port, serverNames };
}

describe("weir gateway behind an egress proxy", () => {
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

  it("reaches an https:// provider through an https:// proxy: TLS to the provider inside TLS to the proxy, a private CA trusted from NODE_EXTRA_CA_CERTS", async () => {
    const certs = await makeTestCertificates({ privateCa: true, commonName: "weir-egress-test", altNames: `IP:127.0.0.1,DNS:${HOST}` });
    const [cert, key] = await Promise.all([readFile(certs.certFile), readFile(certs.keyFile)]);
    const tlsProxy = new ConnectProxy({ credentials: CREDENTIALS, hosts: { [HOST]: "127.0.0.1" }, tls: { cert, key } });
    await tlsProxy.start();
    stops.push(() => tlsProxy.stop());
    const front = await tlsFront(stack.emulator.port, cert, key);
    const provider = (url: string) => url.replace(`http://127.0.0.1:${stack.emulator.port}`, `https://${HOST}:${front.port}`);
    const replica = await stack.startReplica(["--log-level", "info"], {
      HTTPS_PROXY: tlsProxy.url.replace("https://", `https://${CREDENTIALS}@`),
      NODE_EXTRA_CA_CERTS: certs.trustFile,
      WEIR_OPENAI_BASE_URL: provider(stack.emulator.openaiBaseUrl),
      WEIR_ANTHROPIC_BASE_URL: provider(stack.emulator.anthropicBaseUrl),
    });
    const before = (await recorded(stack, () => true)).length;
    const client = new Anthropic({ baseURL: `${replica.url}/anthropic`, apiKey: stack.user.apiKey, maxRetries: 0 });
    const message = await client.messages.create({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "via an https proxy" }] });
    assert.equal(message.type, "message");

    // The tunnel names the provider; the provider's TLS is with the gateway (its name in SNI), so
    // the proxy relays bytes it cannot read.
    assert.deepEqual(tlsProxy.connects, [{ target: `${HOST}:${front.port}`, proxyAuthorization: `Basic ${Buffer.from(CREDENTIALS).toString("base64")}`, status: 200 }]);
    assert.deepEqual(front.serverNames, [HOST]);
    const list = await recorded(stack, (l) => l.length === before + 1 && l[0].ended_at !== null);
    assert.equal(list[0].model, "claude-sonnet-4-5");
    const [starting] = logLines(replica.process, "gateway starting");
    assert.equal(starting.https_proxy, `https://***@${new URL(tlsProxy.url).host}`);
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
