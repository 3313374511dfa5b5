// weir start — the split pair on one machine with nothing installed: a control plane on
// embedded PostgreSQL (data in .weir/), an owner, a demo user with an API key, a gateway key,
// the LLM emulator when no provider key is configured, and a gateway started as a SEPARATE
// process with that key. Ctrl-C stops everything cleanly.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import type { LlmEmulator } from "@weir/llm-emulator";
import { AdminApiError, AdminClient } from "../admin-client.js";
import { CliError } from "../cli-error.js";
import { parseListen } from "../listen-address.js";
import { ensureAddressFree, listenCliError } from "../listen-error.js";
import { parseListeningReport, type ListeningReport } from "../listening-report.js";
import { createLogger, logLevelOption } from "../logger.js";
import { recordRetentionMs, recordRetentionOption } from "../record-retention-option.js";
import { shutdownSignal } from "../shutdown-signal.js";
import { readState, writeEnvFile, writeState, type StartState } from "../state-file.js";
import type { User } from "../users-lookup.js";

interface StartFlags {
  dir: string;
  controlPlaneListen: string;
  gatewayListen: string;
  openaiApiKey?: string;
  anthropicApiKey?: string;
  recordRetention: string;
  logLevel: string;
}

const MAIN = fileURLToPath(new URL("./main.js", new URL("..", import.meta.url)));
/** From spawning the gateway process to its /readyz answering 200. */
const GATEWAY_START_TIMEOUT_MS = 30_000;

export function startCommand(): Command {
  return new Command("start")
    .description("run a control plane (embedded PostgreSQL) and a gateway process on this machine, ready to use")
    .addOption(new Option("--dir <dir>", "state directory (database, keys, logs)").env("WEIR_DIR").default(".weir"))
    .addOption(new Option("--control-plane-listen <host:port>", "control-plane address").env("WEIR_CONTROL_PLANE_LISTEN").default("127.0.0.1:7080"))
    .addOption(new Option("--gateway-listen <host:port>", "gateway address").env("WEIR_GATEWAY_LISTEN").default("127.0.0.1:7081"))
    .addOption(new Option("--openai-api-key <key>", "use the real OpenAI API with this key").env("OPENAI_API_KEY"))
    .addOption(new Option("--anthropic-api-key <key>", "use the real Anthropic API with this key").env("ANTHROPIC_API_KEY"))
    .addOption(recordRetentionOption())
    .addOption(logLevelOption())
    .action(async (flags: StartFlags) => {
      // An empty variable (OPENAI_API_KEY=) means "not set", here and in the gateway's options.
      await runStart({ ...flags, openaiApiKey: flags.openaiApiKey || undefined, anthropicApiKey: flags.anthropicApiKey || undefined });
    });
}

/**
 * The address the gateway process reports it bound, over its IPC channel: only then do we know
 * which listener is ours. Closes the channel once it has served.
 */
function gatewayListening(child: ChildProcess, timeoutMs: number): Promise<ListeningReport> {
  return new Promise((resolveReport, reject) => {
    const settle = (outcome: ListeningReport | Error) => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (child.connected) child.disconnect();
      if (outcome instanceof Error) reject(outcome);
      else resolveReport(outcome);
    };
    const onMessage = (message: unknown) => {
      const report = parseListeningReport(message);
      if (report) settle(report);
    };
    // Its own log says why (EADDRINUSE: another process took the address after our check).
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      settle(new CliError(`the gateway process ${code !== null ? `exited with code ${code}` : `was killed by ${signal}`} before it listened (see its log)`));
    const timer = setTimeout(() => settle(new CliError(`the gateway process did not listen within ${timeoutMs / 1000} s (see its log)`)), timeoutMs);
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

async function waitReady(url: string, child: ChildProcess, deadline: number, checkpoint: () => void): Promise<void> {
  while (Date.now() < deadline) {
    checkpoint();
    if (child.exitCode !== null) throw new CliError(`the gateway process exited with code ${child.exitCode} (see its log)`);
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new CliError(`the gateway at ${url} did not become ready within ${GATEWAY_START_TIMEOUT_MS / 1000} s`);
}

/** Ctrl-C (or SIGTERM) before the banner: what has started is stopped, and the exit is 0. */
class StartInterrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal} while starting`);
  }
}

/** Where one provider's requests go, for the banner. */
function upstreamLine(provider: string, envVar: string, real: boolean): string {
  return real ? `the real ${provider} API (its key is given)` : `LLM EMULATOR: canned answers, not a real model (set ${envVar} for the real API)`;
}

/** The owner `weir start` creates on the first start, and whose key it keeps. */
const START_OWNER = "admin";

/**
 * The users, as the first call with the owner key kept in state.json lists them; or why the
 * admin API no longer takes that key.
 */
async function usersOrRefusal(admin: AdminClient): Promise<{ readonly users: User[] } | { readonly refused: string }> {
  try {
    return { users: await admin.get<User[]>("/api/v2/users") };
  } catch (err) {
    if (err instanceof AdminApiError && err.status === 401) return { refused: "deleted or expired" };
    if (err instanceof AdminApiError && err.status === 403) return { refused: `${START_OWNER} is no longer an active owner` };
    throw err;
  }
}

async function ensureIdentities(admin: AdminClient, state: StartState, users: readonly User[]): Promise<Required<StartState>> {
  let demo = users.find((u) => u.username === "demo");
  demo ??= await admin.post<User>("/api/v2/users", { username: "demo", role: "member" });
  let demoApiKey = state.demoApiKey;
  const keys = await admin.get<{ id: string }[]>(`/api/v2/users/${demo.id}/keys`);
  if (!demoApiKey || !keys.some((k) => demoApiKey!.startsWith(`${k.id}-`))) {
    demoApiKey = (await admin.post<{ key: string }>(`/api/v2/users/${demo.id}/keys`, { name: "weir-start" })).key;
  }
  const gatewayKeys = await admin.get<{ id: string; name: string }[]>("/api/v2/ai-gateway/keys");
  let { gatewayKey, gatewayKeyId } = state;
  if (!gatewayKey || !gatewayKeyId || !gatewayKeys.some((k) => k.id === gatewayKeyId)) {
    // The key text is only ever shown once; a stale row of ours without it is replaced.
    const stale = gatewayKeys.find((k) => k.name === "weir-start");
    if (stale) await admin.delete(`/api/v2/ai-gateway/keys/${stale.id}`);
    const created = await admin.post<{ id: string; key: string }>("/api/v2/ai-gateway/keys", { name: "weir-start" });
    gatewayKey = created.key;
    gatewayKeyId = created.id;
  }
  return { ownerToken: state.ownerToken!, demoUserId: demo.id, demoApiKey, gatewayKey, gatewayKeyId };
}

async function runStart(flags: StartFlags): Promise<void> {
  const retentionMs = recordRetentionMs(flags.recordRetention);
  // Loaded here, not at the top: every other command starts without the daemons' code.
  const { bootstrapOwner, createControlPlane, isOwnerKeyRecoveryRefusedError, makeDirectory, openDatabase, recoverOwnerKey } = await import("@weir/controlplane");
  const { createLlmEmulator } = await import("@weir/llm-emulator");
  const dir = resolve(flags.dir);
  await makeDirectory(dir, 0o700).catch((err: unknown) => {
    throw new CliError(`--dir ${dir}: cannot create it: ${(err as Error).message}`);
  });
  const logFile = join(dir, "weir.log");
  const logger = createLogger(flags.logLevel, "weir-start", logFile);
  const statePath = join(dir, "state.json");
  const state = readState(statePath);
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch((err: Error) => logger.error({ err: err.message }, "shutdown step failed"));
  };

  // Listened for from the start: Node's default for a Ctrl-C while the embedded PostgreSQL
  // starts killed us and left it running. Each step finishes (its cleanup is then known),
  // and the next checkpoint stops start-up.
  const stopRequested = shutdownSignal(logger);
  let interruptedBy: NodeJS.Signals | undefined;
  void stopRequested.then((signal) => (interruptedBy = signal));
  const checkpoint = (): void => {
    if (interruptedBy !== undefined) throw new StartInterrupted(interruptedBy);
  };

  const gatewayAddress = parseListen(flags.gatewayListen);
  // Before anything starts: a taken address is found at once, not after the database is up.
  await ensureAddressFree("--gateway-listen", gatewayAddress);
  try {
    // The embedded server is started once, here; the control plane connects to it by URL.
    const database = await openDatabase({ embeddedDataDir: join(dir, "postgres"), logger });
    cleanups.push(() => database.close());
    checkpoint();
    if (!state.ownerToken) {
      try {
        state.ownerToken = (await bootstrapOwner(database.db, { username: START_OWNER })).key;
      } catch (err) {
        throw new CliError(`cannot create the owner (${(err as Error).message}); ${dir}/state.json is missing — remove ${dir} to start fresh`);
      }
      writeState(statePath, state);
    }

    const controlPlane = createControlPlane({
      listen: parseListen(flags.controlPlaneListen),
      databaseUrl: database.url,
      recordRetentionMs: retentionMs,
      logger: logger.child({ daemon: "control-plane" }),
    });
    cleanups.push(() => controlPlane.shutdown());
    await controlPlane.start().catch((err: unknown) => {
      throw listenCliError("--control-plane-listen", err) ?? err;
    });
    checkpoint();
    let admin = new AdminClient({ url: controlPlane.url, token: state.ownerToken });
    let listed = await usersOrRefusal(admin);
    if ("refused" in listed) {
      const { refused } = listed;
      // Deleted or expired since the last start (a rotation): whoever runs `weir start` owns its
      // database, so a new key grants nothing the data directory did not.
      const recovered = await recoverOwnerKey(database.db, { user: START_OWNER, keyName: "weir-start", onlyWhileLockedOut: false }).catch((err: unknown) => {
        throw isOwnerKeyRecoveryRefusedError(err) ? new CliError(`the owner API key kept in ${statePath} was refused (${refused}), and no new one can be issued: ${err.message}`) : err;
      });
      state.ownerToken = recovered.apiKey.key;
      writeState(statePath, state);
      // SECURITY: the new key by id only.
      logger.warn({ api_key_id: recovered.apiKey.id, user: START_OWNER, why: refused }, "the owner API key kept in state.json was refused; issued a new one");
      process.stdout.write(`The owner API key kept in ${statePath} was refused (${refused}): issued ${START_OWNER} a new one (WEIR_ADMIN_TOKEN below).\n`);
      admin = new AdminClient({ url: controlPlane.url, token: state.ownerToken });
      listed = { users: await admin.get<User[]>("/api/v2/users") };
    }
    const ids = await ensureIdentities(admin, state, listed.users);
    writeState(statePath, ids);

    let emulator: LlmEmulator | undefined;
    if (!flags.openaiApiKey || !flags.anthropicApiKey) {
      emulator = createLlmEmulator({ maxRecorded: 100 });
      await emulator.start();
      cleanups.push(() => emulator!.shutdown());
      checkpoint();
    }
    const keyFile = join(dir, "gateway.key");
    // SECURITY: the gateway reads its key from a 0600 file, not from argv or the environment.
    writeFileSync(keyFile, `${ids.gatewayKey}\n`, { mode: 0o600 });

    // Other `weir gateway` variables in our environment (WEIR_RATE_LIMIT, ...) apply to its
    // gateway; the providers' are ours to choose: an inherited WEIR_OPENAI_API_KEY_FILE next to
    // the key we set would be refused as a key given twice.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^WEIR_(OPENAI|ANTHROPIC)_/.test(name)));
    const childEnv: NodeJS.ProcessEnv = {
      ...inherited,
      WEIR_CONTROL_PLANE_URL: controlPlane.url,
      WEIR_GATEWAY_KEY_FILE: keyFile,
      // As given, port 0 included: the gateway binds and reports what it bound.
      WEIR_GATEWAY_LISTEN: flags.gatewayListen,
      WEIR_OPENAI_BASE_URL: flags.openaiApiKey ? "https://api.openai.com/v1" : emulator!.openaiBaseUrl,
      WEIR_ANTHROPIC_BASE_URL: flags.anthropicApiKey ? "https://api.anthropic.com" : emulator!.anthropicBaseUrl,
      WEIR_OPENAI_API_KEY: flags.openaiApiKey ?? "sk-emulator",
      WEIR_ANTHROPIC_API_KEY: flags.anthropicApiKey ?? "sk-ant-emulator",
      WEIR_LOG_LEVEL: flags.logLevel,
    };
    delete childEnv.WEIR_GATEWAY_KEY; // the file is the only source
    const gatewayLog = openSync(join(dir, "gateway.log"), "a", 0o600);
    // The gateway holds a pipe from us on stdin and stops when it closes: if this process is
    // killed outright, its gateway does not linger holding the port. The IPC channel carries
    // its one report of the address it bound.
    // In a process group of its own: a Ctrl-C in the terminal signals the whole foreground group,
    // and a gateway that took it while starting died under us (we stop it ourselves, SIGTERM).
    const gateway = spawn(process.execPath, [MAIN, "gateway", "--exit-with-parent"], { env: childEnv, stdio: ["pipe", gatewayLog, gatewayLog, "ipc"], detached: true });
    const gatewayExited = new Promise<void>((r) => gateway.once("exit", () => r()));
    cleanups.push(async () => {
      if (gateway.exitCode === null) gateway.kill("SIGTERM");
      await gatewayExited;
    });
    const deadline = Date.now() + GATEWAY_START_TIMEOUT_MS;
    // Only the reported address is polled and announced: a listener someone else holds at the
    // address we asked for is not our gateway.
    const gatewayUrl = (await gatewayListening(gateway, GATEWAY_START_TIMEOUT_MS)).url;
    await waitReady(gatewayUrl, gateway, deadline, checkpoint);
    checkpoint();

    const quickstart = {
      WEIR_GATEWAY_URL: gatewayUrl,
      WEIR_CONTROL_PLANE_URL: controlPlane.url,
      WEIR_API_KEY: ids.demoApiKey,
      WEIR_ADMIN_TOKEN: ids.ownerToken,
    };
    const quickstartFile = join(dir, "quickstart.env");
    writeEnvFile(quickstartFile, quickstart);
    const upstreams = {
      openai: upstreamLine("OpenAI", "OPENAI_API_KEY", flags.openaiApiKey !== undefined),
      anthropic: upstreamLine("Anthropic", "ANTHROPIC_API_KEY", flags.anthropicApiKey !== undefined),
    };
    process.stdout.write(banner(quickstart, quickstartFile, upstreams, { weir: logFile, gateway: join(dir, "gateway.log") }));

    let stopping = false;
    const gatewayDied = new Promise<void>((resolveExit) =>
      gateway.once("exit", (code, signal) => {
        // Our own SIGTERM at Ctrl-C ends it with 0: that is a stop, not a failure.
        if (stopping && code === 0) logger.info({ code }, "gateway process exited");
        else logger.error({ code, signal }, "gateway process exited");
        resolveExit();
      }),
    );
    await Promise.race([stopRequested, gatewayDied]);
    stopping = true;
    process.stdout.write("\nstopping...\n");
    const gatewayFailed = gateway.exitCode !== null && gateway.exitCode !== 0;
    await cleanup();
    if (gatewayFailed) throw new CliError(`the gateway process exited with code ${gateway.exitCode}; see ${join(dir, "gateway.log")}`);
    process.stdout.write("stopped\n");
  } catch (err) {
    if (err instanceof StartInterrupted) process.stdout.write("\nstopping...\n");
    await cleanup();
    if (!(err instanceof StartInterrupted)) throw err;
    logger.info({ signal: err.signal }, "stopped during start-up");
    process.stdout.write("stopped\n");
  }
}

function banner(
  q: Record<string, string>,
  quickstartFile: string,
  upstreams: { openai: string; anthropic: string },
  logs: { weir: string; gateway: string },
): string {
  const g = q.WEIR_GATEWAY_URL!;
  const k = q.WEIR_API_KEY!;
  return `
Weir is running.
  gateway:        ${g}
  control plane:  ${q.WEIR_CONTROL_PLANE_URL}
  OpenAI:         ${upstreams.openai}
  Anthropic:      ${upstreams.anthropic}
  demo API key:   ${k}
  settings:       ${quickstartFile} (WEIR_GATEWAY_URL, WEIR_CONTROL_PLANE_URL, WEIR_API_KEY, WEIR_ADMIN_TOKEN)
  logs:           ${logs.weir} (control plane), ${logs.gateway} (gateway, one line per interception)

Try it:
  curl -sS ${g}/openai/v1/chat/completions -H "Authorization: Bearer ${k}" -H "Content-Type: application/json" -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'
  curl -sS ${g}/openai/v1/responses -H "Authorization: Bearer ${k}" -H "Content-Type: application/json" -d '{"model":"gpt-4o-mini","input":"Hello"}'
  curl -sS ${g}/anthropic/v1/messages -H "X-Api-Key: ${k}" -H "anthropic-version: 2023-06-01" -H "Content-Type: application/json" -d '{"model":"claude-sonnet-4-6","max_tokens":256,"messages":[{"role":"user","content":"Hello"}]}'

Point your clients at it:
  Claude Code:             ANTHROPIC_BASE_URL=${g}/anthropic ANTHROPIC_AUTH_TOKEN=${k} claude
  OpenAI SDK:              OPENAI_BASE_URL=${g}/openai/v1 OPENAI_API_KEY=${k}
  Codex:                   a model provider in ~/.codex/config.toml with base_url = "${g}/openai/v1",
                           env_key = "OPENAI_API_KEY", wire_api = "responses" (README), and OPENAI_API_KEY=${k}
  Anthropic SDK:           ANTHROPIC_BASE_URL=${g}/anthropic ANTHROPIC_API_KEY=${k}
  Recorded traffic:        curl -sS ${q.WEIR_CONTROL_PLANE_URL}/api/v2/ai-gateway/interceptions -H "Authorization: Bearer $WEIR_ADMIN_TOKEN"
Press Ctrl-C to stop.
`;
}
