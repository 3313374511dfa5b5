// Writes of the Recorder service's single-record RPCs (API 1.0). Every write is a single
// statement (atomic on its own), so no error leaves a record half-written. A child record is
// written only after its interception was found (NotFoundError otherwise): the child tables have
// no foreign key (see the 2026_12_03 migration), and interceptions are never deleted, so the
// lookup cannot be overtaken. Text and jsonb values are made storable by the row builders
// (storable-text.ts): a NUL in a prompt must not cost the record.
import { sql, type Kysely } from "kysely";
import { AlreadyExistsError, NotFoundError } from "../../errors.js";
import { UNIQUE_VIOLATION, postgresErrorCode } from "../postgres-error.js";
import type { Database } from "../schema.js";
import { storableJson, storableText } from "../storable-text.js";

export type CredentialKind = "centralized" | "byok";
export type InterceptionErrorType = "upstream_error" | "upstream_disconnected" | "client_disconnected" | "timeout" | "internal";

export interface NewInterception {
  readonly id: string;
  readonly initiatorId: string;
  readonly apiKeyId: string;
  readonly provider: string;
  readonly providerName: string;
  readonly model: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly startedAt: Date;
  readonly client: string;
  readonly clientSessionId: string | null;
  /** When set, thread lineage is derived from the latest tool usage with this provider call id. */
  readonly correlatingToolCallId: string | null;
  readonly credentialKind: CredentialKind;
  readonly credentialHint: string;
  readonly agentFirewallSessionId: string | null;
  readonly agentFirewallSequenceNumber: number | null;
}

export interface InterceptionEnd {
  readonly id: string;
  readonly endedAt: Date;
  /** Replaces the stored hint of a centralized interception when non-empty. */
  readonly credentialHint: string;
  readonly errorType: InterceptionErrorType | null;
  readonly errorMessage: string | null;
}

export interface NewTokenUsage {
  readonly interceptionId: string;
  readonly providerResponseId: string;
  /** Decimal strings (int8). */
  readonly inputTokens: string;
  readonly outputTokens: string;
  readonly cacheReadInputTokens: string;
  readonly cacheWriteInputTokens: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

export interface NewUserPrompt {
  readonly interceptionId: string;
  readonly providerResponseId: string;
  readonly prompt: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

export interface NewToolUsage {
  readonly interceptionId: string;
  readonly providerResponseId: string;
  readonly providerToolCallId: string;
  readonly providerItemId: string;
  readonly serverUrl: string | null;
  readonly tool: string;
  readonly input: string;
  readonly injected: boolean;
  readonly invocationError: string | null;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

export interface NewModelThought {
  readonly interceptionId: string;
  readonly content: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

/** How RecordInterceptionEnded went. */
export type EndInterceptionOutcome = "ended" | "already_ended" | "not_found";

function interceptionNotFound(interceptionId: string): NotFoundError {
  return new NotFoundError(`interception ${interceptionId} not found`);
}

/** Runs a child-record insert once its interception is found; NotFoundError when it is not. */
async function insertChild(db: Kysely<Database>, interceptionId: string, action: string, insert: () => Promise<unknown>): Promise<void> {
  let found: boolean;
  try {
    found = (await db.selectFrom("aibridge_interceptions").select("id").where("id", "=", interceptionId).executeTakeFirst()) !== undefined;
    if (found) await insert();
  } catch (cause) {
    throw new Error(action, { cause });
  }
  if (!found) throw interceptionNotFound(interceptionId);
}

/**
 * The row of an interception. Its thread parent is the interception of the latest tool usage
 * whose provider_tool_call_id equals the correlating id, of the same user; its root is the parent's root, or the
 * parent. Lineage lookup and insert are one statement. The batch writer applies the same rule in
 * its own statement (record-batch-sql.ts insertInterceptions).
 */
function interceptionRow(db: Kysely<Database>, i: NewInterception) {
  const callId = storableText(i.correlatingToolCallId);
  const parent = () =>
    db
      .selectFrom("aibridge_tool_usages as t")
      .innerJoin("aibridge_interceptions as p", "p.id", "t.interception_id")
      .where("t.provider_tool_call_id", "<>", "") // lets the planner use the partial index
      .where("t.provider_tool_call_id", "=", callId ?? "")
      // A thread is one user's: a call id another user's request carries (it came from the
      // client's body) does not join that user's thread.
      .where("p.initiator_id", "=", i.initiatorId)
      .orderBy("t.created_at", "desc")
      .orderBy("t.id", "desc")
      .limit(1);
  return {
    id: i.id,
    initiator_id: i.initiatorId,
    api_key_id: storableText(i.apiKeyId),
    provider: storableText(i.provider),
    provider_name: storableText(i.providerName),
    model: storableText(i.model),
    metadata: storableJson(i.metadata),
    started_at: i.startedAt,
    client: storableText(i.client),
    client_session_id: storableText(i.clientSessionId),
    correlating_tool_call_id: callId,
    thread_parent_id: callId ? parent().select("t.interception_id") : null,
    thread_root_id: callId ? parent().select(sql<string>`coalesce(p.thread_root_id, p.id)`.as("root_id")) : null,
    credential_kind: i.credentialKind,
    credential_hint: storableText(i.credentialHint),
    agent_firewall_session_id: i.agentFirewallSessionId,
    agent_firewall_sequence_number: i.agentFirewallSequenceNumber,
  };
}

/** Inserts an interception (see interceptionRow for its lineage). */
export async function insertInterception(db: Kysely<Database>, i: NewInterception): Promise<void> {
  try {
    await db.insertInto("aibridge_interceptions").values(interceptionRow(db, i)).execute();
  } catch (cause) {
    if (postgresErrorCode(cause) === UNIQUE_VIOLATION) throw new AlreadyExistsError(`interception ${i.id} already exists`);
    throw new Error("insert interception", { cause });
  }
}

/**
 * Ends an interception once (`WHERE ended_at IS NULL`). The hint is overwritten only for
 * centralized interceptions and only with a non-empty value. The follow-up existence check is a
 * read, run only when nothing was updated.
 */
export async function endInterception(db: Kysely<Database>, end: InterceptionEnd): Promise<EndInterceptionOutcome> {
  const hint = storableText(end.credentialHint);
  try {
    const result = await db
      .updateTable("aibridge_interceptions")
      .set({
        ended_at: end.endedAt,
        error_type: end.errorType,
        error_message: storableText(end.errorMessage),
        credential_hint: sql<string>`CASE WHEN credential_kind = 'centralized' AND ${hint} <> '' THEN ${hint} ELSE credential_hint END`,
      })
      .where("id", "=", end.id)
      .where("ended_at", "is", null)
      .executeTakeFirst();
    if (result.numUpdatedRows > 0n) return "ended";
    const existing = await db.selectFrom("aibridge_interceptions").select("id").where("id", "=", end.id).executeTakeFirst();
    return existing ? "already_ended" : "not_found";
  } catch (cause) {
    throw new Error("end interception", { cause });
  }
}

// Row builders of the child records for the single-record inserts below (the batch writer sends
// columns as arrays, record-batch-sql.ts).

function tokenUsageRow(u: NewTokenUsage) {
  return {
    interception_id: u.interceptionId,
    provider_response_id: storableText(u.providerResponseId),
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    cache_read_input_tokens: u.cacheReadInputTokens,
    cache_write_input_tokens: u.cacheWriteInputTokens,
    metadata: storableJson(u.metadata),
    created_at: u.createdAt,
  };
}

function userPromptRow(p: NewUserPrompt) {
  return {
    interception_id: p.interceptionId,
    provider_response_id: storableText(p.providerResponseId),
    prompt: storableText(p.prompt),
    metadata: storableJson(p.metadata),
    created_at: p.createdAt,
  };
}

function toolUsageRow(t: NewToolUsage) {
  return {
    interception_id: t.interceptionId,
    provider_response_id: storableText(t.providerResponseId),
    provider_tool_call_id: storableText(t.providerToolCallId),
    provider_item_id: storableText(t.providerItemId),
    server_url: storableText(t.serverUrl),
    tool: storableText(t.tool),
    input: storableText(t.input),
    injected: t.injected,
    invocation_error: storableText(t.invocationError),
    metadata: storableJson(t.metadata),
    created_at: t.createdAt,
  };
}

function modelThoughtRow(m: NewModelThought) {
  return {
    interception_id: m.interceptionId,
    content: storableText(m.content),
    metadata: storableJson(m.metadata),
    created_at: m.createdAt,
  };
}

export async function insertTokenUsage(db: Kysely<Database>, u: NewTokenUsage): Promise<void> {
  await insertChild(db, u.interceptionId, "insert token usage", () => db.insertInto("aibridge_token_usages").values(tokenUsageRow(u)).execute());
}

export async function insertUserPrompt(db: Kysely<Database>, p: NewUserPrompt): Promise<void> {
  await insertChild(db, p.interceptionId, "insert user prompt", () => db.insertInto("aibridge_user_prompts").values(userPromptRow(p)).execute());
}

export async function insertToolUsage(db: Kysely<Database>, t: NewToolUsage): Promise<void> {
  await insertChild(db, t.interceptionId, "insert tool usage", () => db.insertInto("aibridge_tool_usages").values(toolUsageRow(t)).execute());
}

export async function insertModelThought(db: Kysely<Database>, m: NewModelThought): Promise<void> {
  await insertChild(db, m.interceptionId, "insert model thought", () => db.insertInto("aibridge_model_thoughts").values(modelThoughtRow(m)).execute());
}
