// Pins client detection and client session ids (reference §8 table).

import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { describe, it } from "node:test";
import { CLIENTS, MAX_CLAUDE_USER_ID_CHARS, clientSessionBody, detectClient, detectClientSessionId } from "./index.js";
import type { ClientSessionBody } from "./index.js";

describe("detectClient", () => {
  const cases: { name: string; headers: IncomingHttpHeaders; want: string }[] = [
    { name: "claude code", headers: { "user-agent": "claude-cli/2.1.0 (external, cli)" }, want: CLIENTS.claudeCode },
    { name: "codex ua", headers: { "user-agent": "codex_cli_rs/0.1" }, want: CLIENTS.codex },
    { name: "zed", headers: { "user-agent": "Zed/0.200" }, want: CLIENTS.zed },
    { name: "copilot chat", headers: { "user-agent": "GitHubCopilotChat/0.30" }, want: CLIENTS.copilotVsCode },
    { name: "copilot cli", headers: { "user-agent": "copilot/1.0" }, want: CLIENTS.copilotCli },
    { name: "kilo", headers: { "user-agent": "Kilo-Code/4" }, want: CLIENTS.kilo },
    { name: "roo", headers: { "user-agent": "roo-code/3" }, want: CLIENTS.roo },
    { name: "mux", headers: { "user-agent": "mux/1" }, want: CLIENTS.mux },
    { name: "coder agents", headers: { "user-agent": "coder-agents/1" }, want: CLIENTS.coderAgents },
    { name: "crush", headers: { "user-agent": "Charm Crush/0.1" }, want: CLIENTS.crush },
    { name: "cursor header", headers: { "user-agent": "node", "x-cursor-client-version": "1.2" }, want: CLIENTS.cursor },
    { name: "codex originator", headers: { originator: "codex_cli_rs" }, want: CLIENTS.codex },
    { name: "other originator", headers: { originator: "my-tool" }, want: "my-tool" },
    { name: "openai sdk is unknown", headers: { "user-agent": "OpenAI/JS 6.0.0" }, want: CLIENTS.unknown },
    { name: "nothing", headers: {}, want: CLIENTS.unknown },
  ];
  for (const c of cases) it(c.name, () => assert.equal(detectClient(c.headers), c.want));
});

describe("detectClientSessionId", () => {
  const uuid = "0b5e1f3c-1234-4abc-9def-0123456789ab";
  const cases: { name: string; client: string; headers: IncomingHttpHeaders; body?: Record<string, unknown>; want: string | undefined }[] = [
    { name: "claude header", client: CLIENTS.claudeCode, headers: { "x-claude-code-session-id": "s1" }, want: "s1" },
    { name: "claude header before metadata", client: CLIENTS.claudeCode, headers: { "x-claude-code-session-id": "s1" }, body: { metadata: { user_id: JSON.stringify({ session_id: "s2" }) } }, want: "s1" },
    { name: "claude json metadata", client: CLIENTS.claudeCode, headers: {}, body: { metadata: { user_id: JSON.stringify({ device_id: "d", session_id: "s2" }) } }, want: "s2" },
    { name: "claude legacy metadata", client: CLIENTS.claudeCode, headers: {}, body: { metadata: { user_id: `user_abc_account_x_session_${uuid}` } }, want: uuid },
    { name: "claude without session", client: CLIENTS.claudeCode, headers: {}, body: { metadata: { user_id: "user_abc" } }, want: undefined },
    { name: "codex session-id", client: CLIENTS.codex, headers: { "session-id": "c1", session_id: "c2" }, want: "c1" },
    { name: "codex session_id", client: CLIENTS.codex, headers: { session_id: "c2" }, want: "c2" },
    { name: "copilot vs code", client: CLIENTS.copilotVsCode, headers: { "x-interaction-id": "i1" }, want: "i1" },
    { name: "copilot cli", client: CLIENTS.copilotCli, headers: { "x-client-session-id": "k1" }, want: "k1" },
    { name: "kilo", client: CLIENTS.kilo, headers: { "x-kilocode-taskid": "t1" }, want: "t1" },
    { name: "coder agents", client: CLIENTS.coderAgents, headers: { "x-coder-chat-id": "h1" }, want: "h1" },
    { name: "opencode", client: CLIENTS.openCode, headers: { "x-session-affinity": "o1" }, want: "o1" },
    { name: "unknown client ignores headers", client: CLIENTS.unknown, headers: { "session-id": "x" }, want: undefined },
    { name: "unknown client ignores metadata", client: CLIENTS.unknown, headers: {}, body: { metadata: { user_id: `user_abc_account_x_session_${uuid}` } }, want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(detectClientSessionId(c.client, c.headers, c.body ?? {}), c.want));
});

// Property: the digest the parse thread sends back holds only metadata.user_id, and detection
// reads it exactly as it reads the whole body.
describe("clientSessionBody", () => {
  const uuid = "0b5e1f3c-1234-4abc-9def-0123456789ab";
  const jsonUserId = JSON.stringify({ device_id: "d", account_uuid: "a", session_id: "s2" });
  /** A legacy user id naming session `uuid`, padded to `chars` characters. */
  const longLegacy = (chars: number): string => `user_${"a".repeat(chars - `user__session_${uuid}`.length)}_session_${uuid}`;
  const cases: { name: string; body: Record<string, unknown>; want: ClientSessionBody; session: string | undefined }[] = [
    { name: "JSON user_id, other metadata and fields dropped", body: { model: "m", metadata: { user_id: jsonUserId, other: "x".repeat(1000) } }, want: { metadata: { user_id: jsonUserId } }, session: "s2" },
    { name: "legacy user_id", body: { metadata: { user_id: `user_abc_account_x_session_${uuid}` } }, want: { metadata: { user_id: `user_abc_account_x_session_${uuid}` } }, session: uuid },
    { name: "user_id without a session", body: { metadata: { user_id: "user_abc" } }, want: { metadata: { user_id: "user_abc" } }, session: undefined },
    { name: "JSON user_id with an empty session_id", body: { metadata: { user_id: JSON.stringify({ session_id: "" }) } }, want: { metadata: { user_id: JSON.stringify({ session_id: "" }) } }, session: undefined },
    { name: "empty user_id", body: { metadata: { user_id: "" } }, want: {}, session: undefined },
    { name: "user_id as long as read", body: { metadata: { user_id: longLegacy(MAX_CLAUDE_USER_ID_CHARS) } }, want: { metadata: { user_id: longLegacy(MAX_CLAUDE_USER_ID_CHARS) } }, session: uuid },
    { name: "user_id longer than read", body: { metadata: { user_id: longLegacy(MAX_CLAUDE_USER_ID_CHARS + 1) } }, want: {}, session: undefined },
    { name: "JSON user_id longer than read", body: { metadata: { user_id: JSON.stringify({ session_id: "s2", pad: "x".repeat(MAX_CLAUDE_USER_ID_CHARS) }) } }, want: {}, session: undefined },
    { name: "user_id not a string", body: { metadata: { user_id: { session_id: "s2" } } }, want: {}, session: undefined },
    { name: "metadata not an object", body: { metadata: `_session_${uuid}` }, want: {}, session: undefined },
    { name: "no metadata", body: { model: "m" }, want: {}, session: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const digest = clientSessionBody(c.body);
      assert.deepEqual(digest, c.want);
      assert.equal(detectClientSessionId(CLIENTS.claudeCode, {}, digest), c.session);
      assert.equal(detectClientSessionId(CLIENTS.claudeCode, {}, c.body), c.session);
    });
  }
});
