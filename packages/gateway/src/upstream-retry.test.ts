// The upstream retry policy (the official SDKs' rules) on a fake clock: which answers are
// retried, the provider's wait hints, the backoff and its jitter, and the loop's stops (retries
// used up, a client gone mid-wait, a timeout, an open circuit). Nothing here sleeps.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff } from "./backoff.js";
import { Cancellation } from "./cancellation.js";
import { ClientDisconnectedError, UpstreamTimeoutError } from "./errors.js";
import { FakeClock, flushMicrotasks } from "./testing/fake-clock.js";
import type { IncomingHttpHeaders, UpstreamResponse } from "./upstream.js";
import { UpstreamDeadline } from "./upstream-deadline.js";
import { UPSTREAM_RETRY_BACKOFF, isRetryableResponse, requestWithRetries, retryHintMs, retryReason } from "./upstream-retry.js";
import type { RetryNote, RetryingRequest } from "./upstream-retry.js";

describe("isRetryableResponse", () => {
  const cases: { name: string; status: number; headers?: IncomingHttpHeaders; want: boolean }[] = [
    { name: "200", status: 200, want: false },
    { name: "400", status: 400, want: false },
    { name: "401", status: 401, want: false },
    { name: "403", status: 403, want: false },
    { name: "404", status: 404, want: false },
    { name: "408 request timeout", status: 408, want: true },
    { name: "409 conflict", status: 409, want: true },
    { name: "429 rate limited", status: 429, want: true },
    { name: "500", status: 500, want: true },
    { name: "502", status: 502, want: true },
    { name: "503", status: 503, want: true },
    { name: "529 overloaded", status: 529, want: true },
    { name: "503 with x-should-retry: false", status: 503, headers: { "x-should-retry": "false" }, want: false },
    { name: "429 with x-should-retry: false", status: 429, headers: { "x-should-retry": "false" }, want: false },
    { name: "400 with x-should-retry: true", status: 400, headers: { "x-should-retry": "true" }, want: true },
    { name: "200 with x-should-retry: true (a success is never sent again)", status: 200, headers: { "x-should-retry": "true" }, want: false },
    { name: "an unknown x-should-retry value leaves the status rule", status: 503, headers: { "x-should-retry": "maybe" }, want: true },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(isRetryableResponse(c.status, c.headers ?? {}), c.want));
  }
});

describe("retryHintMs", () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const cases: { name: string; headers: IncomingHttpHeaders; want: number | undefined }[] = [
    { name: "none", headers: {}, want: undefined },
    { name: "retry-after-ms", headers: { "retry-after-ms": "250" }, want: 250 },
    { name: "retry-after-ms wins over retry-after", headers: { "retry-after-ms": "250", "retry-after": "7" }, want: 250 },
    { name: "retry-after in seconds", headers: { "retry-after": "2" }, want: 2_000 },
    { name: "retry-after in fractional seconds", headers: { "retry-after": "1.5" }, want: 1_500 },
    { name: "retry-after as an HTTP date", headers: { "retry-after": new Date(now + 5_000).toUTCString() }, want: 5_000 },
    { name: "a date in the past", headers: { "retry-after": new Date(now - 5_000).toUTCString() }, want: undefined },
    { name: "0 (the SDKs fall back to their backoff)", headers: { "retry-after": "0" }, want: undefined },
    { name: "59 s", headers: { "retry-after": "59" }, want: 59_000 },
    { name: "60 s or more is not waited for", headers: { "retry-after": "60" }, want: undefined },
    { name: "a long retry-after-ms", headers: { "retry-after-ms": "120000" }, want: undefined },
    { name: "garbage", headers: { "retry-after": "soon" }, want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(retryHintMs(c.headers, now), c.want));
  }
});

describe("the retry backoff", () => {
  it("doubles from 0.5 s up to 8 s without jitter (random 0)", () => {
    const backoff = new Backoff({ ...UPSTREAM_RETRY_BACKOFF, random: () => 0 });
    assert.deepEqual(Array.from({ length: 7 }, () => backoff.next()), [500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it("jitter only shortens a delay, by at most a quarter", () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16_807) % 2_147_483_647) - 1) / 2_147_483_646;
    for (let run = 0; run < 200; run++) {
      const backoff = new Backoff({ ...UPSTREAM_RETRY_BACKOFF, random });
      for (const base of [500, 1_000, 2_000, 4_000, 8_000, 8_000]) {
        const delay = backoff.next();
        assert.ok(delay >= base * 0.75 && delay <= base, `${delay} outside [${base * 0.75}, ${base}]`);
      }
    }
    const longest = new Backoff({ ...UPSTREAM_RETRY_BACKOFF, random: () => 0.9999 });
    assert.equal(longest.next(), 375);
  });

  it("labels a retry by its status class, or connection", () => {
    assert.deepEqual([retryReason({ status: 503 }), retryReason({ status: 429 }), retryReason({ status: undefined })], ["5xx", "4xx", "connection"]);
  });
});

/** A scripted provider: each attempt answers the next status (or throws the next error). */
function scripted(answers: (number | Error | { status: number; headers: IncomingHttpHeaders })[]) {
  const drained: number[] = [];
  let sent = 0;
  const send = async (): Promise<UpstreamResponse> => {
    const answer = answers[sent++];
    if (answer === undefined) throw new Error("no more answers");
    if (answer instanceof Error) throw answer;
    const { status, headers } = typeof answer === "number" ? { status: answer, headers: {} } : answer;
    return {
      statusCode: status,
      headers,
      body: {
        bytes: async () => {
          drained.push(status);
          return Buffer.from("{}");
        },
        destroy: () => undefined,
        [Symbol.asyncIterator]: () => [][Symbol.iterator]() as unknown as AsyncIterator<Buffer>,
      },
    };
  };
  return { send, drained, sent: () => sent };
}

function connectionError(code: string): Error {
  return Object.assign(new Error("other side closed"), { code });
}

function setUp(maxRetries: number, answers: Parameters<typeof scripted>[0], extra: Partial<RetryingRequest> = {}) {
  const clock = new FakeClock();
  const exchange = new Cancellation();
  const deadline = new UpstreamDeadline(exchange, clock, 1_000);
  const provider = scripted(answers);
  const notes: RetryNote[] = [];
  const draining = new AbortController();
  let settled: "pending" | "resolved" | "rejected" = "pending";
  const result = requestWithRetries(
    { maxRetries, clock, random: () => 0 },
    { send: provider.send, exchange, deadline, mayRetry: () => true, onRetry: (n) => notes.push(n), draining: draining.signal, ...extra },
  ).then(
    (r) => {
      settled = "resolved";
      return r;
    },
    (err: unknown) => {
      settled = "rejected";
      throw err;
    },
  );
  // Each case reads the outcome it expects; a rejection is not left unhandled meanwhile.
  result.catch(() => undefined);
  return { clock, exchange, deadline, provider, notes, result, settled: () => settled, draining };
}

describe("requestWithRetries", () => {
  it("sends again after a 503, waiting the backoff, and drains the retried answer", async () => {
    const t = setUp(2, [503, 200]);
    await t.clock.advance(499);
    assert.equal(t.provider.sent(), 1, "no retry before the wait is over");
    await t.clock.advance(1);
    assert.equal((await t.result).statusCode, 200);
    assert.equal(t.provider.sent(), 2);
    assert.deepEqual(t.provider.drained, [503]);
    assert.deepEqual(t.notes, [{ attempt: 1, status: 503, errorCode: undefined, delayMs: 500 }]);
  });

  it("retries a connection that failed before the answer, with the error's code", async () => {
    const t = setUp(2, [connectionError("UND_ERR_SOCKET"), connectionError("ECONNRESET"), 200]);
    await t.clock.advance(500 + 1_000);
    assert.equal((await t.result).statusCode, 200);
    assert.deepEqual(t.notes.map((n) => [n.attempt, n.errorCode, n.delayMs]), [[1, "UND_ERR_SOCKET", 500], [2, "ECONNRESET", 1_000]]);
  });

  it("honours the provider's retry-after-ms", async () => {
    const t = setUp(1, [{ status: 429, headers: { "retry-after-ms": "20" } }, 200]);
    await t.clock.advance(20);
    assert.equal((await t.result).statusCode, 200);
    assert.equal(t.notes[0]?.delayMs, 20);
  });

  it("hands on the last failed answer once the retries are used up", async () => {
    const t = setUp(2, [503, 502, 500, 200]);
    await t.clock.advance(10_000);
    assert.equal((await t.result).statusCode, 500);
    assert.equal(t.provider.sent(), 3);
    assert.deepEqual(t.provider.drained, [503, 502], "the answer handed on is not drained");
  });

  it("rethrows the last connection failure once the retries are used up", async () => {
    const t = setUp(1, [connectionError("ECONNREFUSED"), connectionError("ECONNREFUSED")]);
    await t.clock.advance(10_000);
    await assert.rejects(t.result, { code: "ECONNREFUSED" });
    assert.equal(t.provider.sent(), 2);
  });

  it("makes exactly one attempt with 0 retries", async () => {
    const t = setUp(0, [503, 200]);
    assert.equal((await t.result).statusCode, 503);
    assert.equal(t.provider.sent(), 1);
  });

  it("does not retry x-should-retry: false, nor a non-retryable status", async () => {
    const t = setUp(3, [{ status: 503, headers: { "x-should-retry": "false" } }, 200]);
    assert.equal((await t.result).statusCode, 503);
    const u = setUp(3, [400, 200]);
    assert.equal((await u.result).statusCode, 400);
    assert.equal(t.provider.sent() + u.provider.sent(), 2);
  });

  it("ends the wait at once when the client disconnects, with no further attempt", async () => {
    const t = setUp(2, [{ status: 503, headers: { "retry-after": "30" } }, 200]);
    await t.clock.advance(1_000);
    assert.equal(t.settled(), "pending");
    t.exchange.abort(new ClientDisconnectedError());
    await flushMicrotasks();
    assert.equal(t.settled(), "rejected", "the wait ended without the clock moving");
    await assert.rejects(t.result, ClientDisconnectedError);
    await t.clock.advance(60_000);
    assert.equal(t.provider.sent(), 1);
  });

  it("does not retry once the exchange was aborted (the upstream timeout fired)", async () => {
    const exchangeRef: { c?: Cancellation } = {};
    const t = setUp(2, [connectionError("UND_ERR_ABORTED"), 200], {
      send: async () => {
        await Promise.resolve();
        exchangeRef.c?.abort(new UpstreamTimeoutError(1_000));
        throw connectionError("UND_ERR_ABORTED");
      },
    });
    exchangeRef.c = t.exchange;
    await t.clock.advance(10_000);
    await assert.rejects(t.result, { code: "UND_ERR_ABORTED" });
    assert.deepEqual(t.notes, []);
  });

  it("does not retry a failure another attempt cannot mend (a header undici refuses, a certificate)", async () => {
    for (const code of ["UND_ERR_INVALID_ARG", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", undefined]) {
      const failure = code === undefined ? new Error("a bug") : connectionError(code);
      const t = setUp(2, [failure, 200]);
      await t.clock.advance(10_000);
      await assert.rejects(t.result, (err: unknown) => err === failure);
      assert.equal(t.provider.sent(), 1, String(code));
    }
  });

  it("a shutdown ends a wait at once and hands on the answer that was retried, body and all", async () => {
    const t = setUp(2, [{ status: 429, headers: { "retry-after": "30" } }, 200]);
    await t.clock.advance(1_000);
    assert.equal(t.settled(), "pending");
    t.draining.abort();
    await flushMicrotasks();
    assert.equal(t.settled(), "resolved", "the wait ended without the clock moving");
    const handedOn = await t.result;
    assert.equal(handedOn.statusCode, 429);
    assert.equal(handedOn.headers["retry-after"], "30");
    assert.equal((await handedOn.body.bytes()).toString(), "{}");
    assert.deepEqual(t.clock.pendingDelays(), [1_000], "no timer of the wait is left; the deadline re-armed");
    t.deadline.dispose();
    await t.clock.advance(60_000);
    assert.equal(t.provider.sent(), 1);
  });

  it("a shutdown during the wait after a connection failure rethrows it; once shutting down, nothing is retried", async () => {
    const t = setUp(2, [connectionError("ECONNRESET"), 200]);
    await t.clock.advance(100);
    t.draining.abort();
    await assert.rejects(t.result, { code: "ECONNRESET" });
    const u = setUp(2, [503, 200]);
    u.draining.abort();
    assert.equal((await u.result).statusCode, 503);
    assert.equal(t.provider.sent() + u.provider.sent(), 2);
    t.deadline.dispose();
  });

  it("stops when mayRetry says no (the model's circuit opened meanwhile)", async () => {
    const t = setUp(2, [503, 200], { mayRetry: () => false });
    assert.equal((await t.result).statusCode, 503);
    assert.equal(t.provider.sent(), 1);
  });

  it("does not count the wait as the provider's silence: a 30 s wait under a 1 s upstream timeout", async () => {
    const t = setUp(1, [{ status: 503, headers: { "retry-after": "30" } }, 200]);
    await t.clock.advance(30_000);
    assert.equal(t.exchange.aborted, false, "the deadline fired during the wait");
    assert.equal((await t.result).statusCode, 200);
    // Re-armed with a whole timeout after the wait.
    assert.deepEqual(t.clock.pendingDelays(), [1_000]);
    t.deadline.dispose();
  });
});
