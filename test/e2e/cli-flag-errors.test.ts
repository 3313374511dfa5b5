// The daemons' commands refuse a bad duration or URL (and the gateway a key that is not a gateway
// key) before starting anything, in one line that names the flag at fault — set on the command
// line or through its variable. A daemon reads up to
// seven durations: "invalid duration" alone, or the gateway's option names (controlPlaneUrl,
// openai.baseUrl), left the operator guessing which setting to fix.
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createProgram } from "@weir/cli";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { runWeir } from "./stack.js";

/** The shape of a gateway key; no control plane knows it (none is reached in this file). */
const WELL_FORMED_KEY = `wgk_${"0123456789abcdefghijklm".repeat(2).slice(0, 39)}`;

// What each command needs besides the flag under test to get as far as reading its settings.
const COMMANDS: Record<string, string[]> = {
  gateway: ["gateway", "--listen", "127.0.0.1:0", "--key", WELL_FORMED_KEY],
  "control-plane": ["control-plane", "--listen", "127.0.0.1:0", "--embedded-gateway"],
  start: ["start", "--dir", "/nonexistent/weir-flag-errors"],
};

async function refused(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const weir = runWeir(args, env);
  const { code } = await weir.exited;
  assert.equal(code, 1, weir.output());
  return weir.output();
}

const gatewayDurations = [
  { flag: "--circuit-breaker-interval", env: "WEIR_CIRCUIT_BREAKER_INTERVAL", zeroAllowed: true },
  { flag: "--circuit-breaker-timeout", env: "WEIR_CIRCUIT_BREAKER_TIMEOUT", zeroAllowed: false },
  { flag: "--upstream-timeout", env: "WEIR_UPSTREAM_TIMEOUT", zeroAllowed: false },
  { flag: "--shutdown-timeout", env: "WEIR_SHUTDOWN_TIMEOUT", zeroAllowed: false },
  { flag: "--record-flush-timeout", env: "WEIR_RECORD_FLUSH_TIMEOUT", zeroAllowed: false },
];
const durations = [
  ...gatewayDurations.map((d) => ({ command: "gateway", ...d })),
  ...gatewayDurations.map((d) => ({ command: "control-plane", ...d })),
  { command: "control-plane", flag: "--database-wait", env: "WEIR_DATABASE_WAIT", zeroAllowed: true },
  { command: "control-plane", flag: "--record-retention", env: "WEIR_RECORD_RETENTION", zeroAllowed: true },
  { command: "start", flag: "--record-retention", env: "WEIR_RECORD_RETENTION", zeroAllowed: true },
];

// Settings under a second take milliseconds too ("4ms"), with their own examples.
const msDurations = [
  { command: "gateway", flag: "--start-budget", env: "WEIR_START_BUDGET", zeroAllowed: true },
  { command: "control-plane", flag: "--start-budget", env: "WEIR_START_BUDGET", zeroAllowed: true },
  { command: "gateway", flag: "--auth-cache-ttl", env: "WEIR_AUTH_CACHE_TTL", zeroAllowed: false },
  { command: "gateway", flag: "--auth-cache-failure-ttl", env: "WEIR_AUTH_CACHE_FAILURE_TTL", zeroAllowed: true },
  { command: "gateway", flag: "--record-checkpoint-interval", env: "WEIR_RECORD_CHECKPOINT_INTERVAL", zeroAllowed: true },
];

const urls = [
  { command: "gateway", flag: "--control-plane-url", env: "WEIR_CONTROL_PLANE_URL", value: "ftp://x" },
  { command: "gateway", flag: "--openai-base-url", env: "WEIR_OPENAI_BASE_URL", value: "notaurl" },
  { command: "gateway", flag: "--anthropic-base-url", env: "WEIR_ANTHROPIC_BASE_URL", value: "api.anthropic.com" },
  { command: "control-plane", flag: "--openai-base-url", env: "WEIR_OPENAI_BASE_URL", value: "notaurl" },
  { command: "control-plane", flag: "--anthropic-base-url", env: "WEIR_ANTHROPIC_BASE_URL", value: "file:///etc/passwd" },
];

describe("weir gateway, control-plane and start: bad durations and URLs", () => {
  it("the table below has every duration flag of the three commands", () => {
    const program = createProgram();
    const have = Object.keys(COMMANDS).flatMap((name) =>
      program.commands
        .find((c) => c.name() === name)!
        .options.filter((o) => o.flags.includes("<duration>"))
        .map((o) => `${name} ${o.long} ${o.envVar}`),
    );
    assert.deepEqual([...durations, ...msDurations].map((d) => `${d.command} ${d.flag} ${d.env}`).sort(), have.sort());
  });

  for (const d of durations) {
    // 0 where 0 turns the setting off; otherwise 0 itself is the mistake.
    const value = d.zeroAllowed ? "soon" : "0";
    const want = d.zeroAllowed
      ? `weir: ${d.flag} must be 0 or a duration (e.g. 3600, 90s, 15m, 12h or 30d), got "soon"\n`
      : `weir: ${d.flag} must be a duration above 0 (e.g. 3600, 90s, 15m, 12h or 30d), got "0"\n`;
    it(`weir ${d.command} names ${d.flag} for ${JSON.stringify(value)}, as a flag and as ${d.env}`, async () => {
      const [asFlag, asEnv] = await Promise.all([refused([...COMMANDS[d.command]!, d.flag, value]), refused(COMMANDS[d.command]!, { [d.env]: value })]);
      assert.equal(asFlag, want);
      assert.equal(asEnv, want);
    });
  }

  for (const d of msDurations) {
    const value = d.zeroAllowed ? "soon" : "0";
    const want = d.zeroAllowed
      ? `weir: ${d.flag} must be 0 or a duration (e.g. 4ms, 500ms, 5s or 1m), got "soon"\n`
      : `weir: ${d.flag} must be a duration above 0 (e.g. 4ms, 500ms, 5s or 1m), got "0"\n`;
    it(`weir ${d.command} names ${d.flag} for ${JSON.stringify(value)}, as a flag and as ${d.env}`, async () => {
      const [asFlag, asEnv] = await Promise.all([refused([...COMMANDS[d.command]!, d.flag, value]), refused(COMMANDS[d.command]!, { [d.env]: value })]);
      assert.equal(asFlag, want);
      assert.equal(asEnv, want);
    });
  }

  // Node fires a timer longer than 2^31 - 1 ms (24.8 days) after 1 ms: `--upstream-timeout 30d`
  // timed every request out at once. The circuit's interval is not a timer; the gateway takes a year.
  const tooLong = [
    ...["--upstream-timeout", "--shutdown-timeout", "--record-flush-timeout"].flatMap((flag) => [
      { command: "gateway", flag, value: "25d", want: `weir: ${flag} must be at most 24d, got "25d"\n` },
      { command: "control-plane", flag, value: "2073601", want: `weir: ${flag} must be at most 24d, got "2073601"\n` },
    ]),
    { command: "gateway", flag: "--circuit-breaker-interval", value: "366d", want: `weir: --circuit-breaker-interval must be at most 365d, got "366d"\n` },
    { command: "gateway", flag: "--record-checkpoint-interval", value: "25d", want: `weir: --record-checkpoint-interval must be at most 24d, got "25d"\n` },
  ];
  for (const t of tooLong) {
    it(`weir ${t.command} refuses ${t.flag} ${t.value}`, async () => {
      assert.equal(await refused([...COMMANDS[t.command]!, t.flag, t.value]), t.want);
    });
  }
  it("takes the longest timer, --upstream-timeout 24d", async () => {
    const weir = runWeir([...COMMANDS.gateway!, "--upstream-timeout", "24d", "--control-plane-url", "http://127.0.0.1:9"]);
    // It gets past its settings and waits for the (absent) control plane: still running.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(weir.child.exitCode, null, weir.output());
    weir.child.kill("SIGTERM");
    await weir.exited;
  });

  for (const [command, value] of [["gateway", "11"], ["gateway", "two"], ["control-plane", "-1"]] as const) {
    it(`weir ${command} names --upstream-max-retries for ${JSON.stringify(value)}, as a flag and as WEIR_UPSTREAM_MAX_RETRIES`, async () => {
      const want = `weir: --upstream-max-retries must be a whole number from 0 to 10 (0: no retries), got ${JSON.stringify(value)}\n`;
      const [asFlag, asEnv] = await Promise.all([refused([...COMMANDS[command]!, `--upstream-max-retries=${value}`]), refused(COMMANDS[command]!, { WEIR_UPSTREAM_MAX_RETRIES: value })]);
      assert.equal(asFlag, want);
      assert.equal(asEnv, want);
    });
  }

  for (const u of urls) {
    it(`weir ${u.command} names ${u.flag} for ${JSON.stringify(u.value)}, as a flag and as ${u.env}`, async () => {
      const want = `weir: ${u.flag} must be an http:// or https:// URL, got ${JSON.stringify(u.value)}\n`;
      const [asFlag, asEnv] = await Promise.all([refused([...COMMANDS[u.command]!, u.flag, u.value]), refused(COMMANDS[u.command]!, { [u.env]: u.value })]);
      assert.equal(asFlag, want);
      assert.equal(asEnv, want);
    });
  }
});

describe("weir gateway: a key that is not a gateway key", () => {
  const want = (length: number) =>
    `weir: the gateway key given (${length} characters) is not a gateway key: those are 43 characters, "wgk_" then letters and digits, as \`weir keys create\` prints them\n`;
  // An unreachable control plane: a key refused only by it was retried for as long as it was away.
  const base = ["gateway", "--listen", "127.0.0.1:0", "--control-plane-url", "http://127.0.0.1:1"];

  it("is refused at once, as --key, as WEIR_GATEWAY_KEY and from --key-file, saying only its length", async () => {
    const userApiKey = "abcdefghij-0123456789abcdefghijkl";
    const dir = await mkdtemp(join(tmpdir(), "weir-gateway-key-"));
    try {
      await writeFile(join(dir, "key"), `${WELL_FORMED_KEY.slice(0, -1)}\n`);
      const [asFlag, asEnv, fromFile] = await Promise.all([
        refused([...base, "--key", userApiKey]),
        refused(base, { WEIR_GATEWAY_KEY: `${WELL_FORMED_KEY}"` }),
        refused([...base, "--key-file", join(dir, "key")]),
      ]);
      assert.equal(asFlag, want(33));
      assert.equal(asEnv, want(44));
      assert.equal(fromFile, want(42), "the file's line end is trimmed first");
      assert.doesNotMatch(asFlag, /abcdefghij/, "no part of the key is repeated");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("weir gateway, control-plane and start: an address that cannot be bound", () => {
  let taken: Server;
  let port: number;
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    port = (taken.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise((r) => taken?.close(r));
    await database?.drop();
  });

  const inUse = (flag: string) => `weir: ${flag} 127.0.0.1:${port}: another process listens there: stop it, or choose another port\n`;

  it("names the flag and says another process listens there", async () => {
    const dir = await mkdtemp(join(tmpdir(), "weir-listen-taken-"));
    await chmod(dir, 0o755); // as root, embedded PostgreSQL runs as `postgres` and must reach it
    try {
      const [gateway, controlPlane, start] = await Promise.all([
        refused(["gateway", "--key", WELL_FORMED_KEY, "--control-plane-url", "http://127.0.0.1:1", "--listen", `127.0.0.1:${port}`]),
        refused(["control-plane", "--database-url", database.url, "--listen", `127.0.0.1:${port}`]),
        refused(["start", "--dir", join(dir, ".weir"), "--control-plane-listen", `127.0.0.1:${port}`, "--gateway-listen", "127.0.0.1:0"], { DATABASE_URL: "", WEIR_DATABASE_URL: "" }),
      ]);
      // Refused before the control plane is asked: the one line, no log of a failed start.
      assert.equal(gateway, inUse("--listen"));
      assert.equal(controlPlane.split("\n").filter((l) => l.startsWith("weir:")).join("\n") + "\n", inUse("--listen"));
      assert.equal(start, inUse("--control-plane-listen"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("says an address is not this machine's", async () => {
    // 192.0.2.1: TEST-NET-1, never assigned to a machine.
    const out = await refused(["gateway", "--key", WELL_FORMED_KEY, "--control-plane-url", "http://127.0.0.1:1", "--listen", "192.0.2.1:7081"]);
    assert.equal(out, "weir: --listen 192.0.2.1:7081: not an address of this machine: use one of its own, or 0.0.0.0 for all\n");
  });
});
