// readRequestBody against a real node:http server, with the client's bytes sent through a raw
// socket so the test decides how the body is split into TCP writes: the whole request in one
// write (the usual case, read without waiting for 'end'), the body trickling in, chunked
// framing, limits, and a client that leaves half-way. A second request on the same keep-alive
// connection shows the first was read to its end.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { after, before, describe, it, mock } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { RequestBodyTooLargeError } from "./errors.js";
import { readRequestBody } from "./request-body.js";

const LIMIT = 64;
/** Bodies declaring at least this many bytes are read into a buffer of their declared size. */
const PRESIZE_FROM = 16;

/** What the server saw: each body as text, or the error it failed with. */
const outcomes: ({ body: string } | { error: Error })[] = [];
/** Per body read: whether its Buffer is the whole of its own memory (as presized bodies are). */
const ownsMemory: boolean[] = [];

const server = createServer((req, res) => {
  // Like the gateway: the body is read after a promise continuation (authorization), when the
  // parser may have delivered the body but not yet completed the message.
  void Promise.resolve()
    .then(() => readRequestBody(req, LIMIT, PRESIZE_FROM))
    .then(
      (body) => {
        outcomes.push({ body: body.toString("utf8") });
        ownsMemory.push(body.byteOffset === 0 && body.byteLength === body.buffer.byteLength);
        res.end(`read ${body.length}`);
      },
      (err: Error) => {
        outcomes.push({ error: err });
        if (!res.destroyed) res.writeHead(err instanceof RequestBodyTooLargeError ? 413 : 400).end(err.message);
      },
    );
});

let port = 0;
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

/**
 * Sends `parts` over one connection (`gapMs` apart, or closes after them when `close` is set)
 * and resolves with the response text once `responses` responses arrived or the server closed.
 */
async function exchange(parts: readonly (string | Buffer)[], responses: number, options: { gapMs?: number; close?: boolean } = {}): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let text = "";
  const done = new Promise<string>((resolve) => {
    const check = (): void => {
      if ((text.match(/HTTP\/1\.1 /g) ?? []).length >= responses && /\r\n\r\n[^]*$/.test(text)) resolve(text);
    };
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      check();
    });
    socket.on("close", () => resolve(text));
  });
  for (const [i, part] of parts.entries()) {
    if (i > 0 && options.gapMs !== undefined) await delay(options.gapMs);
    socket.write(part);
  }
  if (options.close === true) socket.destroy();
  // Unref'd: a pending bound must not keep the test process alive.
  const result = await Promise.race([done, delay(5_000, undefined, { ref: false }).then(() => text)]);
  socket.destroy();
  return result;
}

const pick = (err: unknown): { message: unknown; code: unknown } => {
  const e = err as { message?: unknown; code?: unknown };
  return { message: e.message, code: e.code };
};

const post = (body: string, headers = `content-length: ${Buffer.byteLength(body)}\r\n`): string =>
  `POST /x HTTP/1.1\r\nhost: t\r\n${headers}\r\n${body}`;

describe("readRequestBody", () => {
  it("reads a body sent with its headers, and the connection serves the next request", async () => {
    outcomes.length = 0;
    const text = await exchange([post('{"model":"m"}') + post("second")], 2);
    assert.deepEqual(outcomes, [{ body: '{"model":"m"}' }, { body: "second" }]);
    assert.match(text, /^HTTP\/1\.1 200 OK[^]*read 13[^]*HTTP\/1\.1 200 OK[^]*read 6$/);
  });

  it("waits for a body that arrives in pieces after the headers", async () => {
    outcomes.length = 0;
    const text = await exchange(["POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 11\r\n\r\n", "hello", " world"], 1, { gapMs: 30 });
    assert.deepEqual(outcomes, [{ body: "hello world" }]);
    assert.match(text, /read 11$/);
  });

  it("copies a large declared body into one buffer of its own as its pieces arrive", async () => {
    outcomes.length = 0;
    ownsMemory.length = 0;
    const body = "0123456789abcdefghij€klmnopqrstuvwxyz";
    const bytes = Buffer.from(body);
    const head = `POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: ${bytes.length}\r\n\r\n`;
    // Split inside the euro sign's three bytes: pieces are bytes, joined before decoding.
    const text = await exchange([head, bytes.subarray(0, 21), bytes.subarray(21, 30), bytes.subarray(30)], 1, { gapMs: 30 });
    assert.deepEqual(outcomes, [{ body }]);
    assert.deepEqual(ownsMemory, [true]);
    assert.match(text, new RegExp(`read ${bytes.length}$`));
  });

  // SECURITY: a client that declares a large body and sends next to nothing must not make the
  // gateway reserve the declared size (32 MiB a connection at the default limit).
  it("reserves a large body's declared size only once a 32nd of it has arrived", async () => {
    outcomes.length = 0;
    const reservations = mock.method(Buffer, "allocUnsafeSlow");
    try {
      const bytes = Buffer.alloc(LIMIT, "x");
      const head = `POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: ${LIMIT}\r\n\r\n`;
      const reservedOfLimit = () => reservations.mock.calls.filter((c) => c.arguments[0] === LIMIT).length;
      const socket = connect(port, "127.0.0.1");
      await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
      socket.write(head);
      socket.write(bytes.subarray(0, 1)); // under 64 / 32 = 2 bytes
      await delay(50);
      assert.equal(reservedOfLimit(), 0);
      const answered = new Promise<string>((resolve) => socket.once("data", (d) => resolve(d.toString("utf8"))));
      socket.end(bytes.subarray(1));
      assert.match(await answered, new RegExp(`read ${LIMIT}$`));
      assert.equal(reservedOfLimit(), 1);
      assert.deepEqual(outcomes, [{ body: bytes.toString("utf8") }]);
    } finally {
      reservations.mock.restore();
    }
  });

  it("reads a chunked body", async () => {
    outcomes.length = 0;
    await exchange([post("5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n", "transfer-encoding: chunked\r\n")], 1);
    assert.deepEqual(outcomes, [{ body: "hello!" }]);
  });

  it("reads an empty body", async () => {
    outcomes.length = 0;
    const text = await exchange([post("") + post("next")], 2);
    assert.deepEqual(outcomes, [{ body: "" }, { body: "next" }]);
    assert.match(text, /read 0[^]*read 4$/);
  });

  it("reads a body exactly at the limit", async () => {
    outcomes.length = 0;
    await exchange([post("x".repeat(LIMIT))], 1);
    assert.deepEqual(outcomes, [{ body: "x".repeat(LIMIT) }]);
  });

  it("refuses a declared length over the limit without reading it", async () => {
    outcomes.length = 0;
    const text = await exchange([post("x".repeat(LIMIT + 1))], 1);
    assert.equal(outcomes.length, 1);
    const [outcome] = outcomes;
    assert.ok(outcome !== undefined && "error" in outcome && outcome.error instanceof RequestBodyTooLargeError);
    assert.equal(outcome.error.message, `request body larger than ${LIMIT} bytes`);
    assert.match(text, /^HTTP\/1\.1 413 /);
  });

  it("refuses a chunked body once it grows over the limit", async () => {
    outcomes.length = 0;
    const chunk = `${(40).toString(16)}\r\n${"y".repeat(40)}\r\n`;
    const text = await exchange([post(`${chunk}${chunk}0\r\n\r\n`, "transfer-encoding: chunked\r\n")], 1);
    const [outcome] = outcomes;
    assert.ok(outcome !== undefined && "error" in outcome && outcome.error instanceof RequestBodyTooLargeError);
    assert.match(text, /^HTTP\/1\.1 413 /);
  });

  it("fails when the client leaves before the declared body arrived", async () => {
    outcomes.length = 0;
    await exchange(["POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 20\r\n\r\nonly ten b"], 0, { close: true });
    for (let i = 0; i < 100 && outcomes.length === 0; i++) await delay(10);
    const [outcome] = outcomes;
    assert.ok(outcome !== undefined && "error" in outcome, "the read fails");
    // Node destroys the request with an "aborted" ECONNRESET before it emits 'close'.
    assert.equal(outcome.error.message, "read request body");
    assert.deepEqual(pick(outcome.error.cause), { message: "aborted", code: "ECONNRESET" });
  });
});
