// The upstream client against a real HTTP server on loopback: whole bodies, chunked reading with
// backpressure (a reader that falls behind pauses the connection instead of buffering the rest),
// and aborts before the headers, mid-body and by leaving a read loop early.

import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Cancellation } from "./cancellation.js";
import { Upstream } from "./upstream.js";

type Route = (req: IncomingMessage, res: ServerResponse) => void;

describe("Upstream", () => {
  let server: Server;
  let origin: string;
  const routes = new Map<string, Route>();
  const upstream = new Upstream({ timeoutMs: 10_000 });

  before(async () => {
    server = createServer((req, res) => {
      const route = routes.get(req.url ?? "");
      if (route === undefined) {
        res.writeHead(404).end();
        return;
      }
      route(req, res);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await upstream.close();
    server.closeAllConnections();
    server.close();
  });

  const send = (path: string, cancellation = new Cancellation(), body: string | undefined = undefined) =>
    upstream.request({ origin, path }, { method: body === undefined ? "GET" : "POST", headers: { "x-test": "1" }, body, cancellation });

  it("returns the status, the headers and the whole body, sent in many chunks", async () => {
    routes.set("/whole", (req, res) => {
      let received = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (received += c));
      req.on("end", () => {
        res.writeHead(201, { "content-type": "application/json", "set-cookie": ["a=1", "b=2"] });
        for (let i = 0; i < 100; i++) res.write(`${i},`);
        res.end(`"${req.headers["x-test"]}:${received}"`);
      });
    });
    const response = await send("/whole", undefined, "hello");
    assert.equal(response.statusCode, 201);
    assert.equal(response.headers["content-type"], "application/json");
    assert.deepEqual(response.headers["set-cookie"], ["a=1", "b=2"]);
    const want = `${Array.from({ length: 100 }, (_, i) => `${i},`).join("")}"1:hello"`;
    assert.equal((await response.body.bytes()).toString("utf8"), want);
  });

  it("pauses the connection while a chunked reader falls behind, and loses nothing", async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    routes.set("/big", (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const response = await send("/big");
    const reader = response.body[Symbol.asyncIterator]();
    const first = await reader.next();
    assert.equal(first.done, false);
    let received = first.value?.length ?? 0;
    // Unread, undici would pull the whole 64 MiB off loopback in well under this; paused, the
    // server is stuck at about the socket buffers' size.
    await sleep(500);
    assert.ok(written < total / 2, `the server wrote ${written} bytes while nobody read`);
    for (;;) {
      const next = await reader.next();
      if (next.done === true) break;
      received += next.value.length;
    }
    assert.equal(received, total);
    assert.equal(written, total);
  });

  it("fails with the cancellation's reason when aborted before the headers, and the server sees the request go", async () => {
    let closed: Promise<unknown> = Promise.resolve();
    let arrive = (): void => undefined;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    routes.set("/hang", (req) => {
      closed = once(req.socket, "close");
      arrive();
    });
    const ac = new Cancellation();
    const pending = send("/hang", ac);
    await arrived;
    const reason = new Error("client went away");
    ac.abort(reason);
    await assert.rejects(pending, (err) => err === reason);
    await closed;
  });

  it("fails at once with the cancellation's reason when the cancellation is already aborted", async () => {
    const reason = new Error("already gone");
    const gone = new Cancellation();
    gone.abort(reason);
    await assert.rejects(send("/whole", gone), (err) => err === reason);
  });

  it("fails the body read with the cancellation's reason when aborted mid-body", async () => {
    let closed: Promise<unknown> = Promise.resolve();
    routes.set("/half", (req, res) => {
      closed = once(req.socket, "close");
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 1\n\n");
    });
    const ac = new Cancellation();
    const response = await send("/half", ac);
    const reader = response.body[Symbol.asyncIterator]();
    assert.equal((await reader.next()).value?.toString("utf8"), "data: 1\n\n");
    const reason = new Error("deadline");
    const next = reader.next();
    ac.abort(reason);
    await assert.rejects(next, (err) => err === reason);
    await closed;
  });

  it("aborts the exchange when a read loop is left early", async () => {
    let closed: Promise<unknown> = Promise.resolve();
    routes.set("/endless", (req, res) => {
      closed = once(req.socket, "close");
      res.writeHead(200, { "content-type": "text/event-stream" });
      const timer = setInterval(() => res.write("data: x\n\n"), 5);
      res.on("close", () => clearInterval(timer));
    });
    const response = await send("/endless");
    for await (const chunk of response.body) {
      assert.equal(chunk.toString("utf8").startsWith("data: x"), true);
      break;
    }
    await closed;
  });

  it("reports an upstream that drops the connection mid-body as a failed read", async () => {
    routes.set("/drop", (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write("{");
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const response = await send("/drop");
    await assert.rejects(response.body.bytes(), (err: { code?: unknown }) => err.code === "UND_ERR_SOCKET");
  });
});
