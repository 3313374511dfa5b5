// Pins the authorization cache's and start pacing's flags as `weir gateway` and `weir
// control-plane` define them: defaults that are the gateway library's own, every bound the
// library enforces refused first with a one-line error naming the flag, and each WEIR_* variable
// read like its flag (WEIR_AUTH_CACHE by its value: false turns the cache off).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "commander";
import { DEFAULT_GATEWAY_OPTIONS, resolveGatewayOptions } from "@weir/gateway";
import { authCacheSettings, type AuthCacheFlags } from "./auth-cache-options.js";
import { readBooleanEnvByValue } from "./boolean-env.js";
import { CliError } from "./cli-error.js";
import { controlPlaneCommand } from "./commands/control-plane.js";
import { gatewayCommand } from "./commands/gateway.js";
import { gatewaySettings, type GatewaySettingsFlags } from "./gateway-options.js";

/**
 * The options of `source` parsed from `args` and `env` alone (other WEIR_* variables of this
 * process are hidden meanwhile), on a command without the daemon's action.
 */
function parse<T extends object>(source: Command, args: string[], env: Record<string, string> = {}): T {
  const saved = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("WEIR_")));
  for (const name of Object.keys(saved)) delete process.env[name];
  Object.assign(process.env, env);
  try {
    const command = new Command(source.name()).exitOverride();
    for (const option of source.options) command.addOption(option);
    readBooleanEnvByValue(command);
    command.parse(args, { from: "user" });
    return command.opts<T>();
  } finally {
    for (const name of Object.keys(env)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

const authCache = (args: string[], env?: Record<string, string>) => authCacheSettings(parse<AuthCacheFlags>(gatewayCommand(), args, env)).authCache;
const startBudget = (command: Command, args: string[], env?: Record<string, string>) => gatewaySettings(parse<GatewaySettingsFlags>(command, args, env)).startBudgetMs;

/** `fn` throws a CliError with exactly `message`. */
function refuses(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => err instanceof CliError && err.message === message);
}

const REQUIRED = { controlPlaneUrl: "http://127.0.0.1:7080", gatewayKey: "wgk_test" };
const { enabled, maxEntries, ttlMs, negativeTtlMs } = DEFAULT_GATEWAY_OPTIONS.authCache;
const DEFAULT_AUTH_CACHE = { enabled, maxEntries, ttlMs, negativeTtlMs };

describe("weir gateway: authorization cache flags", () => {
  it("defaults to the library's own settings", () => {
    const settings = authCache([]);
    assert.deepEqual(settings, DEFAULT_AUTH_CACHE);
    assert.deepEqual(resolveGatewayOptions({ ...REQUIRED, authCache: settings }).authCache, resolveGatewayOptions(REQUIRED).authCache);
  });

  const valid: { name: string; args: string[]; env?: Record<string, string>; want: { enabled?: boolean; maxEntries?: number; ttlMs?: number; negativeTtlMs?: number } }[] = [
    { name: "--no-auth-cache", args: ["--no-auth-cache"], want: { enabled: false } },
    { name: "WEIR_AUTH_CACHE=false", args: [], env: { WEIR_AUTH_CACHE: "false" }, want: { enabled: false } },
    { name: "WEIR_AUTH_CACHE=0", args: [], env: { WEIR_AUTH_CACHE: "0" }, want: { enabled: false } },
    { name: "WEIR_AUTH_CACHE=off", args: [], env: { WEIR_AUTH_CACHE: "off" }, want: { enabled: false } },
    { name: "WEIR_AUTH_CACHE=true", args: [], env: { WEIR_AUTH_CACHE: "true" }, want: { enabled: true } },
    { name: "WEIR_AUTH_CACHE=1", args: [], env: { WEIR_AUTH_CACHE: "1" }, want: { enabled: true } },
    { name: "WEIR_AUTH_CACHE= (empty, so unset)", args: [], env: { WEIR_AUTH_CACHE: "" }, want: { enabled: true } },
    { name: "--no-auth-cache over WEIR_AUTH_CACHE=true", args: ["--no-auth-cache"], env: { WEIR_AUTH_CACHE: "true" }, want: { enabled: false } },
    { name: "--auth-cache-size 1", args: ["--auth-cache-size", "1"], want: { maxEntries: 1 } },
    { name: "--auth-cache-size 250000", args: ["--auth-cache-size", "250000"], want: { maxEntries: 250_000 } },
    { name: "WEIR_AUTH_CACHE_SIZE=20", args: [], env: { WEIR_AUTH_CACHE_SIZE: "20" }, want: { maxEntries: 20 } },
    { name: "--auth-cache-ttl 1ms", args: ["--auth-cache-ttl", "1ms"], want: { ttlMs: 1 } },
    { name: "--auth-cache-ttl 500ms", args: ["--auth-cache-ttl", "500ms"], want: { ttlMs: 500 } },
    { name: "--auth-cache-ttl 30 (seconds)", args: ["--auth-cache-ttl", "30"], want: { ttlMs: 30_000 } },
    { name: "--auth-cache-ttl 1m, the bound", args: ["--auth-cache-ttl", "1m"], want: { ttlMs: 60_000 } },
    { name: "--auth-cache-ttl 60000ms, the bound", args: ["--auth-cache-ttl", "60000ms"], want: { ttlMs: 60_000 } },
    { name: "WEIR_AUTH_CACHE_TTL=10s", args: [], env: { WEIR_AUTH_CACHE_TTL: "10s" }, want: { ttlMs: 10_000 } },
    { name: "--auth-cache-failure-ttl 0: refusals not cached", args: ["--auth-cache-failure-ttl", "0"], want: { negativeTtlMs: 0 } },
    { name: "--auth-cache-failure-ttl 0ms", args: ["--auth-cache-failure-ttl", "0ms"], want: { negativeTtlMs: 0 } },
    { name: "--auth-cache-failure-ttl 250ms", args: ["--auth-cache-failure-ttl", "250ms"], want: { negativeTtlMs: 250 } },
    { name: "--auth-cache-failure-ttl 5s, the bound", args: ["--auth-cache-failure-ttl", "5s"], want: { negativeTtlMs: 5_000 } },
    { name: "WEIR_AUTH_CACHE_FAILURE_TTL=1s", args: [], env: { WEIR_AUTH_CACHE_FAILURE_TTL: "1s" }, want: { negativeTtlMs: 1_000 } },
  ];
  for (const c of valid) {
    it(`takes ${c.name}, and so does the gateway library`, () => {
      const settings = authCache(c.args, c.env);
      assert.deepEqual(settings, { ...DEFAULT_AUTH_CACHE, ...c.want });
      assert.deepEqual(resolveGatewayOptions({ ...REQUIRED, authCache: settings }).authCache, settings);
    });
  }

  const invalid: { args: string[]; env?: Record<string, string>; want: string }[] = [
    { args: [], env: { WEIR_AUTH_CACHE: "maybe" }, want: 'WEIR_AUTH_CACHE must be true or false (also 1/0, yes/no, on/off), got "maybe"' },
    { args: ["--auth-cache-size", "0"], want: '--auth-cache-size must be a positive whole number, got "0"' },
    { args: ["--auth-cache-size", "-5"], want: '--auth-cache-size must be a positive whole number, got "-5"' },
    { args: ["--auth-cache-size", "1.5"], want: '--auth-cache-size must be a positive whole number, got "1.5"' },
    { args: [], env: { WEIR_AUTH_CACHE_SIZE: "many" }, want: '--auth-cache-size must be a positive whole number, got "many"' },
    { args: ["--auth-cache-size", "9007199254740992"], want: '--auth-cache-size must be at most 9007199254740991, got "9007199254740992"' },
    { args: ["--auth-cache-ttl", "0"], want: '--auth-cache-ttl must be a duration above 0 (e.g. 4ms, 500ms, 5s or 1m), got "0"' },
    { args: ["--auth-cache-ttl", "soon"], want: '--auth-cache-ttl must be a duration above 0 (e.g. 4ms, 500ms, 5s or 1m), got "soon"' },
    { args: ["--auth-cache-ttl", "60001ms"], want: '--auth-cache-ttl must be at most 60s, got "60001ms"' },
    { args: [], env: { WEIR_AUTH_CACHE_TTL: "2m" }, want: '--auth-cache-ttl must be at most 60s, got "2m"' },
    { args: ["--auth-cache-failure-ttl", "-1s"], want: '--auth-cache-failure-ttl must be 0 or a duration (e.g. 4ms, 500ms, 5s or 1m), got "-1s"' },
    { args: ["--auth-cache-failure-ttl", "5001ms"], want: '--auth-cache-failure-ttl must be at most 5s, got "5001ms"' },
    { args: [], env: { WEIR_AUTH_CACHE_FAILURE_TTL: "1m" }, want: '--auth-cache-failure-ttl must be at most 5s, got "1m"' },
  ];
  for (const c of invalid) {
    it(`refuses ${[...c.args, ...Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v}`)].join(" ")}`, () => {
      refuses(() => authCache(c.args, c.env), c.want);
    });
  }

  // An embedded gateway caches no authorization: the flags would do nothing there.
  it("is not a flag of weir control-plane", () => {
    const flags = controlPlaneCommand().options.map((o) => o.long);
    for (const flag of ["--no-auth-cache", "--auth-cache-size", "--auth-cache-ttl", "--auth-cache-failure-ttl"]) assert.ok(!flags.includes(flag), flag);
  });
});

describe("weir gateway and weir control-plane: --start-budget", () => {
  for (const command of [gatewayCommand, controlPlaneCommand]) {
    const name = command().name();
    it(`weir ${name} defaults to the library's budget`, () => {
      assert.equal(startBudget(command(), []), DEFAULT_GATEWAY_OPTIONS.startBudgetMs);
    });

    const valid: { args: string[]; env?: Record<string, string>; want: number }[] = [
      { args: ["--start-budget", "0"], want: 0 },
      { args: ["--start-budget", "0ms"], want: 0 },
      { args: ["--start-budget", "1ms"], want: 1 },
      { args: ["--start-budget", "20ms"], want: 20 },
      { args: ["--start-budget", "1s"], want: 1000 },
      { args: ["--start-budget", "1000ms"], want: 1000 },
      { args: [], env: { WEIR_START_BUDGET: "0" }, want: 0 },
      { args: [], env: { WEIR_START_BUDGET: "8ms" }, want: 8 },
    ];
    for (const c of valid) {
      it(`weir ${name} takes ${c.args.join(" ") || JSON.stringify(c.env)} as ${c.want} ms, and so does the gateway library`, () => {
        const ms = startBudget(command(), c.args, c.env);
        assert.equal(ms, c.want);
        assert.equal(resolveGatewayOptions({ ...REQUIRED, startBudgetMs: ms }).startBudgetMs, c.want);
      });
    }

    const invalid: { args: string[]; env?: Record<string, string>; want: string }[] = [
      { args: ["--start-budget", "1001ms"], want: '--start-budget must be at most 1s, got "1001ms"' },
      // A bare number is seconds, as for every duration flag.
      { args: ["--start-budget", "4"], want: '--start-budget must be at most 1s, got "4"' },
      { args: ["--start-budget", "fast"], want: '--start-budget must be 0 or a duration (e.g. 4ms, 500ms, 5s or 1m), got "fast"' },
      { args: ["--start-budget", "0.5ms"], want: '--start-budget must be 0 or a duration (e.g. 4ms, 500ms, 5s or 1m), got "0.5ms"' },
      { args: [], env: { WEIR_START_BUDGET: "2s" }, want: '--start-budget must be at most 1s, got "2s"' },
    ];
    for (const c of invalid) {
      it(`weir ${name} refuses ${c.args.join(" ") || JSON.stringify(c.env)}`, () => refuses(() => startBudget(command(), c.args, c.env), c.want));
    }
  }
});

describe("weir gateway and weir control-plane --embedded-gateway: the egress proxy from the environment", () => {
  const proxy = (command: Command, env: Record<string, string>) => gatewaySettings(parse<GatewaySettingsFlags>(command, []), env).upstreamProxy;

  it("reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY (or their lower-case forms), as the gateway library takes them", () => {
    for (const command of [gatewayCommand(), controlPlaneCommand()]) {
      const settings = proxy(command, { https_proxy: "http://proxy.internal:3128", HTTP_PROXY: "proxy.internal:3128", NO_PROXY: ".internal" });
      assert.deepEqual(settings, { httpsProxy: "http://proxy.internal:3128", httpProxy: "proxy.internal:3128", noProxy: ".internal" });
      const resolved = resolveGatewayOptions({ ...REQUIRED, upstreamProxy: settings }).upstreamProxy;
      assert.deepEqual([resolved?.httpsProxy?.href, resolved?.httpProxy?.href, resolved?.noProxy], ["http://proxy.internal:3128/", "http://proxy.internal:3128/", ".internal"]);
      assert.equal(resolveGatewayOptions({ ...REQUIRED, upstreamProxy: proxy(command, {}) }).upstreamProxy, undefined, "none set: no proxy");
    }
  });

  it("refuses a proxy that cannot work in one line naming the variable, never its credentials", () => {
    refuses(() => proxy(gatewayCommand(), { HTTPS_PROXY: "socks5://u:secret@proxy:1080" }), "HTTPS_PROXY must be an http:// or https:// URL, not socks5://…");
    refuses(() => proxy(gatewayCommand(), { http_proxy: "http://u:secret@proxy:3128/pac" }), "http_proxy must be the proxy's address alone (scheme, host, port), without a path or query");
  });
});
