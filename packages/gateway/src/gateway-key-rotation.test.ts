// Gateway.replaceGatewayKey against the fake control plane over h2c: the new key is checked with
// one RPC before it is used, every later RPC and the authorization watch carry it, so the old
// key can be deleted under a running gateway; a key refused (or not checkable) changes nothing.
// The SIGHUP path through `weir gateway` and a real control plane is
// test/e2e/gateway-key-rotation.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { GatewayKeyNotReplacedError } from "./errors.js";
import { GATEWAY_KEY, eventually, metricValue, send, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";

const NEW_KEY = "wgk_NEWKEY1rotatedSECRETsecretSECRET0123456";
const UNKNOWN_KEY = "wgk_UNKNOWNnotissuedSECRETsecretSECRET01234";

let h: Harness;
const fatal: Error[] = [];

before(async () => {
  h = await startHarness({ gateway: { onFatalError: (err) => fatal.push(err) } });
});
after(async () => {
  await h?.close();
});

const chat = () =>
  send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] } });
const logsWith = (msg: string) => h.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === msg);

describe("replacing the gateway key", () => {
  it("refuses a key the control plane does not know, and keeps using the previous one", async () => {
    const checks = h.cp.callsOf("GetMCPServerConfigs");
    await assert.rejects(h.gateway.replaceGatewayKey(UNKNOWN_KEY), (err: unknown) => {
      assert.ok(err instanceof GatewayKeyNotReplacedError);
      assert.equal(err.message, "control plane rejected gateway key wgk_UNKNOWN...: AI Gateway key invalid.");
      return true;
    });
    assert.equal(h.cp.callsOf("GetMCPServerConfigs"), checks + 1, "checked with one RPC");
    assert.equal((await chat()).status, 200);
    await waitForEnded(h, 1);
    assert.equal(h.cp.watchersWith(GATEWAY_KEY), 1);
    assert.equal(logsWith("gateway key replaced").length, 0);
    assert.equal(h.gateway.ready, true);
  });

  it("refuses, changing nothing, when the control plane cannot be asked", async () => {
    h.cp.addGatewayKey(NEW_KEY);
    h.cp.failNext("GetMCPServerConfigs", 1, Code.Unavailable);
    await assert.rejects(h.gateway.replaceGatewayKey(NEW_KEY), {
      name: "GatewayKeyNotReplacedError",
      message: "could not check with the control plane gateway key wgk_NEWKEY1...: scripted Unavailable",
    });
    assert.equal(h.cp.watchersWith(GATEWAY_KEY), 1);
    assert.equal(h.cp.watchersWith(NEW_KEY), 0);
  });

  it("refuses a key not shaped like a gateway key without asking, naming only its length", async () => {
    const checks = h.cp.callsOf("GetMCPServerConfigs");
    // An inner newline would make the header itself throw, quoting the value whole.
    await assert.rejects(h.gateway.replaceGatewayKey("wgk_NEWKEY1\nSECRETtail"), {
      name: "GatewayKeyNotReplacedError",
      message: 'the new gateway key (22 characters) is not a gateway key: those are 43 characters, "wgk_" then letters and digits',
    });
    assert.equal(h.cp.callsOf("GetMCPServerConfigs"), checks);
  });

  it("refuses an empty key without asking", async () => {
    const checks = h.cp.callsOf("GetMCPServerConfigs");
    await assert.rejects(h.gateway.replaceGatewayKey("  \n"), { name: "GatewayKeyNotReplacedError", message: "the new gateway key is empty" });
    assert.equal(h.cp.callsOf("GetMCPServerConfigs"), checks);
  });

  it("moves every RPC and the authorization watch to the new key, so the old one can be deleted", async () => {
    await h.gateway.replaceGatewayKey(NEW_KEY);
    const [line] = logsWith("gateway key replaced");
    assert.equal(line.previous_gateway_key_prefix, GATEWAY_KEY.slice(0, 11));
    assert.equal(line.gateway_key_prefix, "wgk_NEWKEY1");
    await eventually(() => h.cp.watchersWith(NEW_KEY) === 1 && h.cp.watchersWith(GATEWAY_KEY) === 0, 5_000, "the watch reopened with the new key");
    await eventually(async () => (await metricValue(h.gateway.metrics.authWatchConnected)) === 1, 5_000, "the watch connected");

    // What an operator does next: delete the old key. Nothing of this gateway notices: the
    // records below are only stored if their RPCs carry the new key.
    h.cp.deleteGatewayKey(GATEWAY_KEY);
    const before = h.cp.ended.length;
    for (let i = 0; i < 3; i++) assert.equal((await chat()).status, 200);
    await waitForEnded(h, before + 3);
    assert.equal(h.gateway.ready, true);
    assert.deepEqual(fatal, []);
    assert.equal(logsWith("authorization watch lost: authorizing every request until it is back").length, 0);
    // SECURITY: no line carries more of a key than its prefix.
    for (const l of h.logs) assert.ok(!l.includes(NEW_KEY.slice(11)) && !l.includes(GATEWAY_KEY.slice(11)), `a key reached the log: ${l}`);
  });

  it("does nothing for the key already in use", async () => {
    const checks = h.cp.callsOf("GetMCPServerConfigs");
    await h.gateway.replaceGatewayKey(NEW_KEY);
    assert.equal(h.cp.callsOf("GetMCPServerConfigs"), checks);
    assert.equal(logsWith("gateway key replaced").length, 1);
    assert.equal(h.cp.watchersWith(NEW_KEY), 1);
  });
});
