// The in-process transport on its own (reference transport_test.go, TestInMemoryRoundTripper_*):
// in-memory connections to a plain request handler, through the in-process fetch and
// dispatcher. The gateway-level behaviour (IsAuthorized{key_id}, BYOK, recording) is pinned
// end to end in test/e2e/embedded-gateway.test.ts against the real control plane.

import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, it } from "node:test";
import { pino } from "pino";
import { DELEGATED_API_KEY_ID_HEADER, takeDelegation } from "./delegation.js";
import { DelegatedApiKeyIdRequiredError, InProcessGatewayClosedError } from "./errors.js";
import { InMemoryConnections } from "./in-memory-connections.js";
import { createInProcessDispatcher, createInProcessFetch } from "./in-process-client.js";
import { gatewayErrorBody } from "./testing/index.js";

const silent = pino({ level: "silent" });
const KEY_ID = { [DELEGATED_API_KEY_ID_HEADER]: "abcdef1234" };

type Handler = (req: IncomingMessage, res: ServerResponse, connections: InMemoryConnections) => void;

function withConnections(handler: Handler): InMemoryConnections {
  const connections: InMemoryConnections = new InMemoryConnections((req, res) => handler(req, res, connections), silent);
  return connections;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

/** A promise plus its resolver. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("in-process transport", () => {
  // Pins TestTransportFactory_TransportFor / _PassesHeadersAndStatus: the path is rewritten to
  // the provider's alias, headers and status cross both ways, and the request arrives on a
  // delegating in-memory connection with the key id intact.
  it("rewrites the path and passes headers, body and status", async () => {
    const connections = withConnections((req, res, c) => {
      void readBody(req).then((body) => {
        const delegation = takeDelegation(req, (socket) => c.isDelegating(socket));
        res.writeHead(201, { "content-type": "application/json", "x-upstream": "yes" });
        res.end(JSON.stringify({ method: req.method, url: req.url, custom: req.headers["x-custom"], body, keyId: delegation.apiKeyId }));
      });
    });
    try {
      const res = await createInProcessFetch(connections, "openai")("http://anything/v1/test?x=1", {
        method: "POST",
        headers: { ...KEY_ID, "x-custom": "value" },
        body: "payload",
      });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get("x-upstream"), "yes");
      assert.deepEqual(await res.json(), { method: "POST", url: "/api/v2/ai-gateway/openai/v1/test?x=1", custom: "value", body: "payload", keyId: "abcdef1234" });
    } finally {
      connections.close();
    }
  });

  // Pins TestInMemoryRoundTripper_Streams: bytes reach the caller as they are written, not when
  // the handler finishes.
  it("streams: the caller reads a chunk while the handler is still writing", async () => {
    const second = gate();
    const connections = withConnections((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n");
      void second.promise.then(() => res.end("data: two\n\n"));
    });
    try {
      const res = await createInProcessFetch(connections, "anthropic", { apiKeyId: "abcdef1234" })("http://gateway/v1/messages", { method: "POST", body: "{}" });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      assert.equal(decoder.decode((await reader.read()).value), "data: one\n\n");
      second.open();
      let rest = "";
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += decoder.decode(r.value);
      assert.equal(rest, "data: two\n\n");
    } finally {
      connections.close();
    }
  });

  // Pins TestInMemoryRoundTripper_CancelCloses: aborting the caller's signal closes the stream
  // and the handler sees its response close (the gateway then cancels the upstream request).
  it("cancelling the caller's signal closes the handler's response", async () => {
    const closed = gate();
    const connections = withConnections((_req, res) => {
      res.on("close", () => closed.open());
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n");
    });
    try {
      const abort = new AbortController();
      const res = await createInProcessFetch(connections, "openai", { apiKeyId: "abcdef1234" })("http://gateway/v1/chat/completions", {
        method: "POST",
        body: "{}",
        signal: abort.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      abort.abort();
      await assert.rejects(reader.read());
      await closed.promise;
    } finally {
      connections.close();
    }
  });

  // Pins TestInMemoryRoundTripper_ConcurrentRequests: overlapping requests do not mix.
  it("concurrent requests each get their own answer", async () => {
    const connections = withConnections((req, res) => {
      void readBody(req).then((body) => {
        setTimeout(() => res.end(`${req.headers[DELEGATED_API_KEY_ID_HEADER]}:${body}`), Math.random() * 20);
      });
    });
    try {
      const call = createInProcessFetch(connections, "openai");
      const answers = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const res = await call("http://gateway/v1/echo", { method: "POST", headers: { [DELEGATED_API_KEY_ID_HEADER]: `key${i}` }, body: `payload-${i}` });
          return res.text();
        }),
      );
      assert.deepEqual(answers, Array.from({ length: 20 }, (_, i) => `key${i}:payload-${i}`));
    } finally {
      connections.close();
    }
  });

  // Pins TestInMemoryRoundTripper_HandlerPanic: a handler that throws is an error for its own
  // caller only — a 500 before the response started, a broken stream after — and the
  // connections keep serving everyone else.
  it("a throwing handler fails only its own caller", async () => {
    const connections = withConnections((req, res) => {
      if (req.url?.endsWith("/throw-early")) throw new Error("boom");
      if (req.url?.endsWith("/throw-late")) {
        res.writeHead(200);
        res.write("partial");
        throw new Error("boom after headers");
      }
      res.end("fine");
    });
    try {
      const call = createInProcessFetch(connections, "openai", { apiKeyId: "abcdef1234" });
      // The late failure resets the connection: the caller's fetch or its body read rejects
      // (depending on whether the partial response was flushed first) — never a clean end.
      const late = call("http://gateway/v1/throw-late").then((res) => res.text());
      const [early, fine] = await Promise.all([call("http://gateway/v1/throw-early"), call("http://gateway/v1/fine")]);
      await assert.rejects(late);
      assert.equal(early.status, 500);
      assert.deepEqual(await early.json(), gatewayErrorBody("none", 500, "internal server error"));
      assert.equal(await fine.text(), "fine");
      assert.equal(await (await call("http://gateway/v1/again")).text(), "fine");
    } finally {
      connections.close();
    }
  });

  // Pins TestInMemoryRoundTripper_RequiresDelegatedAPIKeyID: no key id, no request — the
  // handler never runs.
  describe("requires a delegated API key id", () => {
    const cases = [
      { name: "missing delegated key ID", headers: {} as Record<string, string>, wantErr: true },
      { name: "empty delegated key ID", headers: { [DELEGATED_API_KEY_ID_HEADER]: "" }, wantErr: true },
      { name: "blank delegated key ID", headers: { [DELEGATED_API_KEY_ID_HEADER]: " \t" }, wantErr: true },
      { name: "valid delegated key ID", headers: { [DELEGATED_API_KEY_ID_HEADER]: "test-key-id" }, wantErr: false },
    ];
    for (const tc of cases) {
      it(`fetch: ${tc.name}`, async () => {
        let handled = 0;
        const connections = withConnections((_req, res) => {
          handled++;
          res.end("ok");
        });
        try {
          const call = createInProcessFetch(connections, "openai")("http://gateway/v1/test", { method: "POST", headers: tc.headers, body: "{}" });
          if (tc.wantErr) {
            await assert.rejects(call, DelegatedApiKeyIdRequiredError);
            assert.equal(handled, 0, "handler invoked despite the transport rejecting the request");
          } else {
            assert.equal((await call).status, 200);
            assert.equal(handled, 1);
          }
        } finally {
          connections.close();
        }
      });
      it(`dispatcher: ${tc.name}`, async () => {
        let handled = 0;
        const connections = withConnections((_req, res) => {
          handled++;
          res.end("ok");
        });
        const dispatcher = createInProcessDispatcher(connections, "openai");
        try {
          const call = dispatcher.request({ path: "/v1/test", method: "POST", headers: tc.headers, body: "{}" });
          if (tc.wantErr) {
            await assert.rejects(call, /in-process gateway request requires a delegated API key id/);
            assert.equal(handled, 0);
          } else {
            const res = await call;
            assert.equal(await res.body.text(), "ok");
            assert.equal(handled, 1);
          }
        } finally {
          await dispatcher.close();
          connections.close();
        }
      });
    }

    it("an unknown provider is refused when the client is created", () => {
      const connections = withConnections((_req, res) => res.end());
      assert.throws(() => createInProcessFetch(connections, "gemini" as "openai"), /unknown provider "gemini"/);
    });
  });

  // Pins the non-spoofable channel at its root: only delegating in-memory connections count;
  // the same header on any other connection is removed and ignored.
  it("honours the key id only on delegating connections", async () => {
    const seen: { delegating: boolean; apiKeyId: string | undefined; ignored: boolean; left: unknown }[] = [];
    const connections = withConnections((req, res, c) => {
      const delegating = c.isDelegating(req.socket);
      const delegation = takeDelegation(req, (socket) => c.isDelegating(socket));
      seen.push({ delegating, apiKeyId: delegation.apiKeyId, ignored: delegation.ignored, left: req.headers[DELEGATED_API_KEY_ID_HEADER] });
      res.end();
    });
    const { Pool } = await import("undici");
    const plain = new Pool("http://gateway.in-process", { connect: connections.connector(false) });
    try {
      await (await createInProcessFetch(connections, "openai", { apiKeyId: "abcdef1234" })("http://gateway/v1/x")).text();
      await (await plain.request({ path: "/x", method: "GET", headers: KEY_ID })).body.text();
      assert.deepEqual(seen, [
        { delegating: true, apiKeyId: "abcdef1234", ignored: false, left: undefined },
        { delegating: false, apiKeyId: undefined, ignored: true, left: undefined },
      ]);
    } finally {
      await plain.close();
      connections.close();
    }
  });

  // Pins shutdown: after close() no request gets through, and the caller learns why.
  it("refuses requests once closed", async () => {
    const connections = withConnections((_req, res) => res.end("ok"));
    connections.close();
    const dispatcher = createInProcessDispatcher(connections, "openai", { apiKeyId: "abcdef1234" });
    await assert.rejects(dispatcher.request({ path: "/v1/x", method: "GET" }), InProcessGatewayClosedError);
    await dispatcher.close();
  });
});
