// The upstream deadline bounds the provider's silences, not the client's: time spent waiting for
// a client to take a held-back write does not count toward the timeout (the provider's clock
// starts again after it), and a client whose write does not drain within a whole timeout is
// given up on (false) without the exchange being aborted as an upstream timeout.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Cancellation } from "./cancellation.js";
import { isUpstreamTimeoutError } from "./errors.js";
import { FakeClock } from "./testing/index.js";
import { UpstreamDeadline } from "./upstream-deadline.js";

describe("UpstreamDeadline.waitForClient", () => {
  it("does not count the client's wait as the provider's silence", async () => {
    const clock = new FakeClock();
    const exchange = new Cancellation();
    const deadline = new UpstreamDeadline(exchange, clock, 300);
    await clock.advance(200);
    let release!: (ok: boolean) => void;
    const waited = deadline.waitForClient(new Promise<boolean>((resolve) => (release = resolve)));
    // 450 ms since the provider's last chunk, 250 of them waiting for the client: no timeout.
    await clock.advance(250);
    release(true);
    assert.equal(await waited, true);
    assert.equal(exchange.aborted, false);
    // The provider's clock starts again after the wait: a whole timeout, not what was left.
    await clock.advance(299);
    assert.equal(exchange.aborted, false);
    await clock.advance(1);
    assert.ok(exchange.aborted && isUpstreamTimeoutError(exchange.reason));
    deadline.dispose();
  });

  it("gives up on a client whose write does not drain within a whole timeout, without an upstream timeout", async () => {
    const clock = new FakeClock();
    const exchange = new Cancellation();
    const deadline = new UpstreamDeadline(exchange, clock, 300);
    let settled: boolean | undefined;
    void deadline.waitForClient(new Promise<boolean>(() => undefined)).then((ok) => (settled = ok));
    await clock.advance(299);
    assert.equal(settled, undefined);
    await clock.advance(1);
    assert.equal(settled, false);
    assert.equal(exchange.aborted, false);
    deadline.dispose();
  });
});
