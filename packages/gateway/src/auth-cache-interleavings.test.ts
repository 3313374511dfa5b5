// Random interleavings against the IsAuthorized cache (a property test, seeded so a failure
// repeats): requests, the control plane computing and delivering answers in any order, changes
// committed, pushed (or lost while disconnected), resets, deactivations, clears and idle sweeps. Property
// (SECURITY): no answer reflects a key or user older than a change pushed before the request was
// made — whether it came from the cache or from a shared call. Run also with two remembered
// changes at most, so the bound's fallback is exercised.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AuthCache } from "./auth-cache.js";
import type { AuthorizationAnswer } from "./auth-cache.js";
import { UnauthorizedError } from "./errors.js";
import { FakeClock } from "./testing/index.js";

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ["k1", "k2", "k3"];
const USERS = ["u1", "u2"];

async function run(seed: number, steps: number, maxRememberedChanges: number): Promise<string | undefined> {
  const r = rng(seed);
  const pick = <T,>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const clock = new FakeClock();
  const cache = new AuthCache({ clock, ttlMs: 1e12, negativeTtlMs: 1e12, maxRememberedChanges });
  // control plane state
  const keyVer = new Map(KEYS.map((k) => [k, 0]));
  const userVer = new Map(USERS.map((u) => [u, 0]));
  const keyUser = new Map(KEYS.map((k, i) => [k, USERS[i % USERS.length]!]));
  const revoked = new Map(KEYS.map((k) => [k, false]));
  // what the gateway has been told
  const pushedKey = new Map(KEYS.map((k) => [k, 0]));
  const pushedUser = new Map(USERS.map((u) => [u, 0]));
  const queue: { kind: "k" | "u"; id: string; ver: number }[] = [];
  let connected = false;
  type Load = { key: string; snap?: { kv: number; uv: number; user: string; revoked: boolean }; resolve: (a: AuthorizationAnswer) => void; reject: (e: unknown) => void };
  const loads: Load[] = [];
  const checks: Promise<void>[] = [];
  let violation: string | undefined;
  const log: string[] = [];

  const verify = (key: string, user: string, kv: number, uv: number, pk: Map<string, number>, pu: Map<string, number>, how: string) => {
    if (kv < pk.get(key)! || uv < pu.get(user)!) {
      violation ??= `${how}: ${key} answer kv=${kv} uv=${uv} (user ${user}) but pushed kv=${pk.get(key)} uv=${pu.get(user)}\n${log.join("\n")}`;
    }
  };
  const parse = (s: string) => {
    const [user, kv, uv] = s.split(":");
    return { user: user!, kv: Number(kv), uv: Number(uv) };
  };

  // Idle sweeps from their own stream, so each seed's sequence of other steps is unchanged.
  const sweeps = rng(seed ^ 0x5eed);
  for (let step = 0; step < steps && violation === undefined; step++) {
    if (sweeps() < 0.1) {
      log.push("sweep");
      cache.sweep(clock.now());
    }
    const x = r();
    if (x < 0.25) {
      const key = pick(KEYS);
      const pk = new Map(pushedKey);
      const pu = new Map(pushedUser);
      log.push(`req ${key}`);
      const res = cache.authorize(`cred-${key}`, () =>
        new Promise<AuthorizationAnswer>((resolve, reject) => {
          log.push(`  load#${loads.length} ${key}`);
          loads.push({ key, resolve, reject });
        }),
      );
      if (!(res instanceof Promise)) {
        const p = parse(res.username);
        log.push(`  hit ${res.username}`);
        verify(key, p.user, p.kv, p.uv, pk, pu, "HIT");
      } else {
        checks.push(
          res.then(
            (u) => verify(key, parse(u.username).user, parse(u.username).kv, parse(u.username).uv, pk, pu, "ASYNC"),
            (e: unknown) => {
              if (e instanceof UnauthorizedError) {
                const p = parse(e.reason);
                verify(key, p.user, p.kv, p.uv, pk, pu, "REFUSAL");
              }
            },
          ),
        );
      }
    } else if (x < 0.45) {
      // control plane computes a pending load
      const pending = loads.filter((l) => l.snap === undefined);
      if (pending.length === 0) continue;
      const l = pick(pending);
      const user = keyUser.get(l.key)!;
      l.snap = { kv: keyVer.get(l.key)!, uv: userVer.get(user)!, user, revoked: revoked.get(l.key)! };
      log.push(`compute ${l.key} ${JSON.stringify(l.snap)}`);
    } else if (x < 0.65) {
      const done = loads.filter((l) => l.snap !== undefined);
      if (done.length === 0) continue;
      const l = pick(done);
      loads.splice(loads.indexOf(l), 1);
      const s = l.snap!;
      const tag = `${s.user}:${s.kv}:${s.uv}`;
      log.push(`deliver ${l.key} ${tag} ${s.revoked ? "refused" : "ok"}`);
      if (s.revoked) l.reject(new UnauthorizedError(tag));
      else l.resolve({ user: { apiKeyId: l.key, ownerId: s.user, username: tag }, keyExpiresAtMs: undefined });
      await new Promise<void>((res) => setImmediate(res));
    } else if (x < 0.78) {
      // commit a change
      const y = r();
      if (y < 0.4) {
        const k = pick(KEYS);
        revoked.set(k, !revoked.get(k));
        keyVer.set(k, keyVer.get(k)! + 1);
        queue.push({ kind: "k", id: k, ver: keyVer.get(k)! });
        log.push(`commit key ${k} revoked=${revoked.get(k)} v${keyVer.get(k)}`);
      } else if (y < 0.6) {
        const k = pick(KEYS);
        keyUser.set(k, pick(USERS));
        keyVer.set(k, keyVer.get(k)! + 1);
        queue.push({ kind: "k", id: k, ver: keyVer.get(k)! });
        log.push(`commit key ${k} user=${keyUser.get(k)} v${keyVer.get(k)}`);
      } else {
        const u = pick(USERS);
        userVer.set(u, userVer.get(u)! + 1);
        queue.push({ kind: "u", id: u, ver: userVer.get(u)! });
        log.push(`commit user ${u} v${userVer.get(u)}`);
      }
    } else if (x < 0.93) {
      const c = queue.shift();
      if (c === undefined) continue;
      log.push(`push ${c.kind} ${c.id} v${c.ver} connected=${connected}`);
      if (!connected) continue; // lost; the next reset covers it
      if (c.kind === "k") {
        pushedKey.set(c.id, c.ver);
        cache.invalidateApiKey(c.id);
      } else {
        pushedUser.set(c.id, c.ver);
        cache.invalidateUser(c.id);
      }
    } else if (x < 0.97) {
      // reset: covers every commit so far
      queue.length = 0;
      for (const k of KEYS) pushedKey.set(k, keyVer.get(k)!);
      for (const u of USERS) pushedUser.set(u, userVer.get(u)!);
      connected = true;
      log.push("reset");
      cache.activate();
    } else if (x < 0.985) {
      connected = false;
      log.push("deactivate");
      cache.deactivate();
    } else {
      log.push("clear");
      cache.clear();
    }
  }
  // drain
  for (const l of loads) {
    if (l.snap === undefined) {
      const user = keyUser.get(l.key)!;
      l.snap = { kv: keyVer.get(l.key)!, uv: userVer.get(user)!, user, revoked: revoked.get(l.key)! };
    }
    const s = l.snap;
    const tag = `${s.user}:${s.kv}:${s.uv}`;
    if (s.revoked) l.reject(new UnauthorizedError(tag));
    else l.resolve({ user: { apiKeyId: l.key, ownerId: s.user, username: tag }, keyExpiresAtMs: undefined });
  }
  await Promise.all(checks);
  return violation;
}

describe("AuthCache under random interleavings", () => {
  for (const [maxRememberedChanges, seeds] of [
    [10_000, 1_000],
    [2, 500],
  ] as const) {
    it(`never answers from before a pushed change (${seeds} seeds, at most ${maxRememberedChanges} changes remembered)`, async () => {
      for (let seed = 1; seed <= seeds; seed++) {
        const violation = await run(seed, 300, maxRememberedChanges);
        if (violation !== undefined) assert.fail(`seed ${seed}: ${violation}`);
      }
    });
  }
});
