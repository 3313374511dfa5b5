// Guessing which client application sent a request, and its session id (reference §8 table).

import type { IncomingHttpHeaders } from "node:http";
import { asObject, asString, tryParseJson } from "./json.js";
import type { JsonObject } from "./json.js";

/** Client names recorded on interceptions. */
export const CLIENTS = Object.freeze({
  claudeCode: "Claude Code",
  codex: "Codex",
  zed: "Zed",
  copilotVsCode: "GitHub Copilot (VS Code)",
  copilotCli: "GitHub Copilot (CLI)",
  kilo: "Kilo Code",
  roo: "Roo Code",
  mux: "Mux",
  coderAgents: "Coder Agents",
  crush: "Charm Crush",
  cursor: "Cursor",
  openCode: "OpenCode",
  unknown: "Unknown",
});

// User-Agent prefixes, lowercase, checked in order.
const USER_AGENT_PREFIXES: readonly (readonly [string, string])[] = [
  ["claude", CLIENTS.claudeCode],
  ["codex", CLIENTS.codex],
  ["zed/", CLIENTS.zed],
  ["githubcopilotchat/", CLIENTS.copilotVsCode],
  ["copilot/", CLIENTS.copilotCli],
  ["kilo-code/", CLIENTS.kilo],
  ["roo-code/", CLIENTS.roo],
  ["mux/", CLIENTS.mux],
  ["coder-agents/", CLIENTS.coderAgents],
  ["charm crush/", CLIENTS.crush],
  ["opencode/", CLIENTS.openCode],
];

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/** The client application, from the User-Agent, then Cursor's and Codex's own headers. */
export function detectClient(headers: IncomingHttpHeaders): string {
  const ua = header(headers, "user-agent")?.toLowerCase() ?? "";
  for (const [prefix, client] of USER_AGENT_PREFIXES) {
    if (ua.startsWith(prefix)) return client;
  }
  if (header(headers, "x-cursor-client-version") !== undefined) return CLIENTS.cursor;
  const originator = header(headers, "originator")?.toLowerCase();
  if (originator !== undefined) return originator.startsWith("codex") ? CLIENTS.codex : originator;
  return CLIENTS.unknown;
}

const LEGACY_CLAUDE_SESSION = /_session_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * What detectClientSessionId reads of a request body: its `metadata` (Claude Code's session id
 * is in `metadata.user_id`). A body parsed inline is passed as it stands; from the parse thread
 * comes clientSessionBody's digest of the body it parsed.
 */
export interface ClientSessionBody {
  readonly metadata?: unknown;
}

/**
 * Longest `metadata.user_id` read for a session: Claude Code's is under 200 characters. Since the
 * parse thread sends the user id back for the event loop to read, a crafted one of tens of MB
 * would otherwise be parsed there (28 MB of JSON took 420 ms), stalling every stream.
 */
export const MAX_CLAUDE_USER_ID_CHARS = 64 * 1024;

/** The user id Claude Code puts its session in: `metadata.user_id`, a non-empty string within MAX_CLAUDE_USER_ID_CHARS. */
function claudeUserId(body: ClientSessionBody): string | undefined {
  const userId = asString(asObject(body.metadata)?.user_id);
  return userId === undefined || userId === "" || userId.length > MAX_CLAUDE_USER_ID_CHARS ? undefined : userId;
}

/**
 * The part of a parsed body detectClientSessionId reads, for the parse thread to send back:
 * `metadata` with only its `user_id`, so a large body's other metadata is not copied across.
 */
export function clientSessionBody(body: JsonObject): ClientSessionBody {
  const userId = claudeUserId(body);
  return userId === undefined ? {} : { metadata: { user_id: userId } };
}

/** Claude Code's session id inside `metadata.user_id`: a JSON `session_id`, or the legacy `…_session_<uuid>`. */
function claudeSessionFromMetadata(body: ClientSessionBody): string | undefined {
  const userId = claudeUserId(body);
  if (userId === undefined) return undefined;
  if (userId.trimStart().startsWith("{")) {
    const session = asString(asObject(tryParseJson(userId))?.session_id);
    return session === undefined || session === "" ? undefined : session;
  }
  return LEGACY_CLAUDE_SESSION.exec(userId)?.[1];
}

/** The client's session id, from the headers (or body) that client is known to use. */
export function detectClientSessionId(client: string, headers: IncomingHttpHeaders, body: ClientSessionBody): string | undefined {
  switch (client) {
    case CLIENTS.claudeCode:
      return header(headers, "x-claude-code-session-id") ?? claudeSessionFromMetadata(body);
    case CLIENTS.codex:
      return header(headers, "session-id") ?? header(headers, "session_id");
    case CLIENTS.copilotVsCode:
      return header(headers, "x-interaction-id");
    case CLIENTS.copilotCli:
      return header(headers, "x-client-session-id");
    case CLIENTS.kilo:
      return header(headers, "x-kilocode-taskid");
    case CLIENTS.coderAgents:
      return header(headers, "x-coder-chat-id");
    case CLIENTS.openCode:
      return header(headers, "x-opencode-session") ?? header(headers, "x-session-affinity");
    default:
      return undefined;
  }
}
