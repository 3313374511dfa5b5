// The circuit breakers alone, on a scripted clock: closed → open after N failures in a row,
// refusals while open, half-open trials, back to closed or open, the interval's reset, stale
// outcomes ignored, and the map holding only breakers with something to remember.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CircuitBreakers, isBreakerFailureStatus } from "./circuit-breaker.js";
import type { Admission, BreakerKey, BreakerState, BreakerTicket, CircuitBreakerSettings } from "./circuit-breaker.js";

const SETTINGS: CircuitBreakerSettings = { failureThreshold: 3, intervalMs: 10_000, timeoutMs: 30_000, maxRequests: 2 };
const GPT: BreakerKey = { provider: "openai", endpoint: "/openai/v1/chat/completions", model: "gpt-4o" };
const MINI: BreakerKey = { ...GPT, model: "gpt-4o-mini" };

function setup(settings: CircuitBreakerSettings = SETTINGS, maxTracked?: number) {
  const clock = { now: 1_000_000 };
  const changes: string[] = [];
  const rejects: string[] = [];
  const breakers = new CircuitBreakers(
    settings,
    {
      onStateChange: (key: BreakerKey, from: BreakerState, to: BreakerState) => changes.push(`${key.model} ${from}->${to}`),
      onReject: (key: BreakerKey) => rejects.push(key.model),
    },
    () => clock.now,
    maxTracked,
  );
  const ticket = (a: Admission): BreakerTicket | undefined => {
    assert.equal(a.admitted, true, "admitted");
    return a.admitted ? a.ticket : undefined;
  };
  /** One request that ends with `outcome` before the next starts. */
  const run = (key: BreakerKey, outcome: "success" | "failure" | "neither"): Admission => {
    const a = breakers.admit(key);
    if (a.admitted) breakers.report(a.ticket, outcome);
    return a;
  };
  return { clock, changes, rejects, breakers, ticket, run };
}

describe("CircuitBreakers", () => {
  // Upstream retries ask this before each retry: a request's retries stop once its circuit
  // opened, and a half-open trial is never retried.
  it("allowsRetry: not once the ticket's circuit opened after it was admitted, nor for a half-open trial", () => {
    const { clock, breakers, ticket, run } = setup();
    const waiting = ticket(breakers.admit(GPT));
    assert.equal(breakers.allowsRetry(waiting), true);
    for (let i = 0; i < SETTINGS.failureThreshold; i++) run(GPT, "failure");
    assert.equal(breakers.allowsRetry(waiting), false);
    assert.equal(breakers.allowsRetry(undefined), true);
    clock.now += SETTINGS.timeoutMs;
    const trial = ticket(breakers.admit(GPT));
    assert.equal(trial?.trial, true);
    assert.equal(breakers.allowsRetry(trial), false);
  });

  it("opens after failureThreshold failures in a row and refuses with the time left until trials", () => {
    const { clock, changes, rejects, breakers, run } = setup();
    run(GPT, "failure");
    run(GPT, "failure");
    run(GPT, "success"); // the run starts over
    run(GPT, "failure");
    run(GPT, "failure");
    assert.deepEqual(changes, []);
    run(GPT, "failure");
    assert.deepEqual(changes, ["gpt-4o closed->open"]);
    clock.now += 12_400;
    assert.deepEqual(breakers.admit(GPT), { admitted: false, state: "open", retryAfterSeconds: 18 });
    assert.deepEqual(rejects, ["gpt-4o"]);
    // Another model on the same route is not affected.
    assert.equal(run(MINI, "success").admitted, true);
  });

  it("lets maxRequests trials through once the timeout passed, closes after as many successes", () => {
    const { clock, changes, breakers, ticket } = setup();
    for (let i = 0; i < 3; i++) breakers.report(ticket(breakers.admit(GPT)), "failure");
    clock.now += 30_000;
    const first = ticket(breakers.admit(GPT));
    const second = ticket(breakers.admit(GPT));
    assert.deepEqual(breakers.admit(GPT), { admitted: false, state: "half_open", retryAfterSeconds: 1 });
    breakers.report(first, "success");
    assert.deepEqual(changes, ["gpt-4o closed->open", "gpt-4o open->half_open"]);
    breakers.report(second, "success");
    assert.deepEqual(changes, ["gpt-4o closed->open", "gpt-4o open->half_open", "gpt-4o half_open->closed"]);
    assert.equal(breakers.admit(GPT).admitted, true);
  });

  it("opens again on a failed trial, for a whole timeout", () => {
    const { clock, changes, breakers, ticket } = setup();
    for (let i = 0; i < 3; i++) breakers.report(ticket(breakers.admit(GPT)), "failure");
    clock.now += 30_000;
    const trial = ticket(breakers.admit(GPT));
    const other = ticket(breakers.admit(GPT));
    breakers.report(trial, "failure");
    assert.deepEqual(changes.slice(-1), ["gpt-4o half_open->open"]);
    // The other trial's late success belongs to the half-open period that is over: ignored.
    breakers.report(other, "success");
    assert.deepEqual(breakers.admit(GPT), { admitted: false, state: "open", retryAfterSeconds: 30 });
  });

  it("gives a trial's place to another when its client left before the answer", () => {
    const { clock, breakers, ticket } = setup({ ...SETTINGS, maxRequests: 1 });
    for (let i = 0; i < 3; i++) breakers.report(ticket(breakers.admit(GPT)), "failure");
    clock.now += 30_000;
    const gone = ticket(breakers.admit(GPT));
    assert.equal(breakers.admit(GPT).admitted, false);
    breakers.report(gone, "neither");
    const next = ticket(breakers.admit(GPT));
    breakers.report(next, "success");
    assert.equal(breakers.admit(GPT).admitted, true);
  });

  it("starts the run of failures over every interval, but still counts requests that began in an earlier one", () => {
    const { clock, changes, breakers, ticket, run } = setup();
    run(GPT, "failure");
    run(GPT, "failure");
    clock.now += 10_000; // a new interval: the two are forgotten
    run(GPT, "failure");
    run(GPT, "failure");
    assert.deepEqual(changes, []);
    // A hanging provider: the request started before the next interval fails after it.
    const slow = ticket(breakers.admit(GPT));
    clock.now += 10_000;
    breakers.report(slow, "failure"); // counted in the new interval
    run(GPT, "failure");
    run(GPT, "failure");
    assert.deepEqual(changes, ["gpt-4o closed->open"]);
  });

  it("never resets the run with interval 0, and does not count requests whose client left", () => {
    const { clock, changes, run } = setup({ ...SETTINGS, intervalMs: 0 });
    run(GPT, "failure");
    clock.now += 86_400_000;
    run(GPT, "neither");
    run(GPT, "failure");
    assert.deepEqual(changes, []);
    run(GPT, "failure");
    assert.deepEqual(changes, ["gpt-4o closed->open"]);
  });

  it("keeps only breakers with failures or requests in flight, and passes new models unguarded when full", () => {
    const { breakers, ticket, run } = setup(SETTINGS, 2);
    run(GPT, "success");
    assert.equal(breakers.size, 0);
    run(GPT, "failure");
    const inFlight = ticket(breakers.admit(MINI));
    assert.equal(breakers.size, 2);
    const third = breakers.admit({ ...GPT, model: "o3" });
    assert.deepEqual(third, { admitted: true, ticket: undefined });
    breakers.report(undefined, "failure"); // an unguarded request reports nothing
    breakers.report(inFlight, "success");
    assert.equal(breakers.size, 1);
    run({ ...GPT, model: "o3" }, "failure");
    assert.equal(breakers.size, 2);
  });

  it("forgets breakers nobody used for a while when room is needed, an open one reporting closed", () => {
    const { clock, changes, breakers, run } = setup({ ...SETTINGS, intervalMs: 0 }, 2);
    run(GPT, "failure"); // an old failure that never expires (interval 0)
    for (let i = 0; i < 3; i++) run(MINI, "failure"); // open
    const o3 = { ...GPT, model: "o3" };
    assert.deepEqual(breakers.admit(o3), { admitted: true, ticket: undefined }, "full: unguarded");
    clock.now += 60_000;
    assert.deepEqual(breakers.admit(o3), { admitted: true, ticket: undefined }, "still in use recently");
    clock.now += 10 * 60_000;
    const admitted = breakers.admit(o3);
    assert.ok(admitted.admitted && admitted.ticket !== undefined, "room was made");
    assert.deepEqual(changes, ["gpt-4o-mini closed->open", "gpt-4o-mini open->half_open", "gpt-4o-mini half_open->closed"]);
    assert.equal(breakers.size, 1);
  });

  it("brings states up to date when refreshed (a scrape), and forgets a model nobody asks for any more", () => {
    const { clock, changes, breakers, run } = setup();
    for (let i = 0; i < 3; i++) run(GPT, "failure");
    clock.now += 30_000;
    breakers.refresh();
    assert.deepEqual(changes.slice(-1), ["gpt-4o open->half_open"]);
    assert.equal(breakers.size, 1);
    clock.now += 10 * 60_000;
    breakers.refresh();
    assert.deepEqual(changes.slice(-1), ["gpt-4o half_open->closed"]);
    assert.equal(breakers.size, 0);
  });

  // Property: sweep(now) forgets what refresh() forgets, at the time it is given, and counts it.
  it("sweeps breakers with nothing left to remember and keeps failing or busy ones", () => {
    const { clock, breakers, run, ticket } = setup();
    run(GPT, "failure");
    const busy = ticket(breakers.admit(MINI));
    run({ ...GPT, model: "o3" }, "failure");
    for (let i = 0; i < 3; i++) run({ ...GPT, model: "o1" }, "failure");
    assert.equal(breakers.size, 4);
    assert.equal(breakers.sweep(clock.now), 0, "all still counting");
    assert.equal(breakers.sweep(clock.now + 10_000), 2, "the closed runs of failures start over");
    assert.equal(breakers.size, 2, "the open circuit and the request in flight");
    breakers.report(busy, "success");
    assert.equal(breakers.size, 1);
    assert.equal(breakers.sweep(clock.now + 10 * 60_000), 1, "the open circuit nobody asked for since");
    assert.equal(breakers.size, 0);
  });

  it("counts 503, 504 and 529 as failures, not 429 or other errors", () => {
    assert.deepEqual(
      [200, 400, 401, 404, 429, 500, 502, 503, 504, 529].filter(isBreakerFailureStatus),
      [503, 504, 529],
    );
  });
});
