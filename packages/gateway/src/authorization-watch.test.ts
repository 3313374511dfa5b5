// AuthorizationWatch's retry pacing on a scripted clock: a failed stream waits out its backoff,
// but retrySoon() (the control plane found answering again) reopens it at once and restarts the
// backoff from its first step; it does nothing while the stream is up or the control plane does
// not serve the watch at all.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { pino } from "pino";
import { AuthCache } from "./auth-cache.js";
import { AuthorizationWatch } from "./authorization-watch.js";
import { FakeClock, flushMicrotasks } from "./testing/index.js";

/** A watch whose streams fail with `code` until `open` is set, then deliver a reset and stay open. */
function scripted(code: Code) {
  const state = { calls: 0, open: false };
  const authorizer = {
    watchAuthorizationChanges: (_req: unknown, opts?: { signal?: AbortSignal }) => {
      state.calls += 1;
      const open = state.open;
      return (async function* () {
        if (!open) throw new ConnectError("no", code);
        yield { change: { case: "reset" as const, value: {} } };
        await new Promise((_, reject) => opts?.signal?.addEventListener("abort", () => reject(opts.signal!.reason), { once: true }));
      })();
    },
  };
  return { state, authorizer: authorizer as never };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await flushMicrotasks();
}

describe("AuthorizationWatch.retrySoon", () => {
  it("reopens a failed stream at once instead of waiting out the backoff, then backs off from the start", async () => {
    const clock = new FakeClock();
    const { state, authorizer } = scripted(Code.Unavailable);
    const watch = new AuthorizationWatch({ authorizer, cache: new AuthCache({ clock }), logger: pino({ level: "silent" }), clock, backoff: { initialMs: 50, maxMs: 10_000, jitter: 0 } });
    watch.start();
    await settle();
    // Fail until the backoff has grown to its cap.
    for (let i = 0; i < 12; i++) await clock.advance(clock.pendingDelays()[0] ?? 0);
    const calls = state.calls;
    assert.deepEqual(clock.pendingDelays(), [10_000]);

    watch.retrySoon();
    await settle();
    assert.equal(state.calls, calls + 1, "retried without the clock moving");
    assert.deepEqual(clock.pendingDelays(), [50], "the backoff starts over");

    state.open = true;
    watch.retrySoon();
    await settle();
    assert.equal(watch.connected, true);
    const connectedCalls = state.calls;
    watch.retrySoon(); // connected: nothing to do
    await settle();
    assert.equal(state.calls, connectedCalls);
    await watch.stop();
  });

  it("leaves a control plane that does not serve the watch alone", async () => {
    const clock = new FakeClock();
    const { state, authorizer } = scripted(Code.Unimplemented);
    const watch = new AuthorizationWatch({ authorizer, cache: new AuthCache({ clock }), logger: pino({ level: "silent" }), clock, unsupportedRetryMs: 300_000 });
    watch.start();
    await settle();
    assert.equal(watch.supported, "unsupported");
    watch.retrySoon();
    await settle();
    assert.equal(state.calls, 1);
    assert.deepEqual(clock.pendingDelays(), [300_000]);
    await watch.stop();
  });
});

describe("AuthorizationWatch.onChange", () => {
  // Property: every pushed change reaches onChange after the cache applied it; a reset and a change this build does not know mean "all".
  it("tells each pushed change, by what it makes stale", async () => {
    const messages = [
      { change: { case: "reset" as const, value: {} } },
      { change: { case: "apiKey" as const, value: { apiKeyId: "abcde12345" } } },
      { change: { case: "user" as const, value: { userId: "7b3f1c2e-0000-4000-8000-000000000001" } } },
      { change: { case: "gatewayKey" as const, value: { gatewayKeyId: "7b3f1c2e-0000-4000-8000-0000000000ff" } } },
      { change: { case: undefined } },
    ];
    const authorizer = {
      watchAuthorizationChanges: (_req: unknown, opts?: { signal?: AbortSignal }) =>
        (async function* () {
          yield* messages;
          await new Promise((_, reject) => opts?.signal?.addEventListener("abort", () => reject(opts.signal!.reason), { once: true }));
        })(),
    };
    const cache = new AuthCache();
    const told: unknown[] = [];
    const watch = new AuthorizationWatch({
      authorizer: authorizer as never,
      cache,
      logger: pino({ level: "silent" }),
      onChange: (change) => told.push({ change, cacheActive: cache.active }),
    });
    watch.start();
    await settle();
    assert.deepEqual(
      told.map((t) => (t as { change: unknown }).change),
      [{ kind: "all" }, { kind: "api_key", apiKeyId: "abcde12345" }, { kind: "user", userId: "7b3f1c2e-0000-4000-8000-000000000001" }, { kind: "gateway_key" }, { kind: "all" }],
    );
    assert.equal((told[0] as { cacheActive: boolean }).cacheActive, true, "told after the reset activated the cache");
    await watch.stop();
  });
});
