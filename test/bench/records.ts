// What reached Postgres: row counts while records drain, and the final audit of every
// interception the gateway answered 200 for.
import { sql, type Kysely } from "kysely";
import type { Database } from "@weir/controlplane";
import { sleep } from "./procs.js";

export interface RowCounts {
  readonly interceptions: number;
  readonly ended: number;
  readonly tokenUsages: number;
  readonly prompts: number;
  readonly toolUsages: number;
  readonly thoughts: number;
  /** aibridge_interceptions plus its child tables. */
  readonly rows: number;
}

export async function rowCounts(db: Kysely<Database>): Promise<RowCounts> {
  const r = await sql<Record<"i" | "e" | "t" | "p" | "u" | "m", string>>`
    SELECT
      (SELECT count(*) FROM aibridge_interceptions) AS i,
      (SELECT count(*) FROM aibridge_interceptions WHERE ended_at IS NOT NULL) AS e,
      (SELECT count(*) FROM aibridge_token_usages) AS t,
      (SELECT count(*) FROM aibridge_user_prompts) AS p,
      (SELECT count(*) FROM aibridge_tool_usages) AS u,
      (SELECT count(*) FROM aibridge_model_thoughts) AS m`.execute(db);
  const row = r.rows[0];
  if (row === undefined) throw new Error("row count query returned nothing");
  const c = {
    interceptions: Number(row.i),
    ended: Number(row.e),
    tokenUsages: Number(row.t),
    prompts: Number(row.p),
    toolUsages: Number(row.u),
    thoughts: Number(row.m),
  };
  return { ...c, rows: c.interceptions + c.tokenUsages + c.prompts + c.toolUsages + c.thoughts };
}

const sameCounts = (a: RowCounts, b: RowCounts): boolean =>
  a.interceptions === b.interceptions && a.ended === b.ended && a.rows === b.rows;

// ---- Prometheus text ----

/**
 * Sum of every sample of `name` whose labels include `labels` (all label sets when none are
 * given); undefined when there is no such sample.
 */
export function sumMetric(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  let sum: number | undefined;
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#") || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? "";
    if (wanted.some((w) => !set.includes(`{${w}`) && !set.includes(`,${w}`))) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}

export async function scrape(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${baseUrl}/metrics answered ${res.status}`);
  return text;
}

// ---- waiting for the record queue to drain ----

export interface Settled {
  /** Counts stopped growing and the gateway's queue was empty, before the bound. */
  readonly settled: boolean;
  /** From `sinceMs` until the final counts were first seen. */
  readonly seconds: number;
  readonly counts: RowCounts;
}

/**
 * Polls Postgres (and the gateway's record queue depth) until the counts have not changed for
 * three consecutive polls with an empty queue, or `timeoutMs` passes.
 */
export async function waitForRecords(db: Kysely<Database>, gatewayUrl: string, sinceMs: number, timeoutMs: number, signal: AbortSignal): Promise<Settled> {
  const deadline = performance.now() + timeoutMs;
  let prev: RowCounts | undefined;
  let stable = 0;
  let firstSeen = performance.now();
  for (;;) {
    if (signal.aborted) throw new Error(`aborted: ${String(signal.reason)}`);
    const [counts, depth] = await Promise.all([
      rowCounts(db),
      scrape(gatewayUrl).then(
        (t) => sumMetric(t, "weir_gateway_record_queue_depth"),
        () => undefined,
      ),
    ]);
    const now = performance.now();
    if (prev === undefined || !sameCounts(prev, counts)) {
      firstSeen = now;
      stable = 0;
    } else {
      stable += 1;
    }
    prev = counts;
    if (stable >= 3 && (depth === undefined || depth === 0)) return { settled: true, seconds: Math.max(0, firstSeen - sinceMs) / 1000, counts };
    if (now > deadline) return { settled: false, seconds: (now - sinceMs) / 1000, counts };
    await sleep(250);
  }
}

// ---- the audit ----

export interface RecordAudit {
  /** Interceptions the gateway answered 200 for (ids from x-weir-interception-id). */
  readonly expectedInterceptions: number;
  /** Four per interception: started, ended, one token usage, one prompt. */
  readonly expectedRecords: number;
  /** Expected records not found: the sum of the four kinds below. */
  readonly lost: number;
  readonly missingInterception: number;
  readonly notEnded: number;
  readonly missingTokenUsage: number;
  readonly missingPrompt: number;
  /** More than one token usage or prompt row for one interception. */
  readonly duplicated: number;
  /** Expected interceptions that were recorded with an error type. */
  readonly endedWithError: number;
  /** Interceptions in Postgres the client never saw a 200 for (e.g. cut off when autocannon stops). */
  readonly unexpectedInterceptions: number;
  readonly dbInterceptions: number;
}

export async function auditRecords(db: Kysely<Database>, expected: ReadonlySet<string>): Promise<RecordAudit> {
  const r = await sql<{ id: string; ended: boolean; failed: boolean; tokens: number; prompts: number }>`
    SELECT i.id::text AS id,
           (i.ended_at IS NOT NULL) AS ended,
           (i.error_type IS NOT NULL) AS failed,
           coalesce(t.n, 0)::int AS tokens,
           coalesce(p.n, 0)::int AS prompts
      FROM aibridge_interceptions i
      LEFT JOIN (SELECT interception_id, count(*) AS n FROM aibridge_token_usages GROUP BY interception_id) t ON t.interception_id = i.id
      LEFT JOIN (SELECT interception_id, count(*) AS n FROM aibridge_user_prompts GROUP BY interception_id) p ON p.interception_id = i.id`.execute(db);
  const byId = new Map(r.rows.map((row) => [row.id, row]));
  let missingInterception = 0;
  let notEnded = 0;
  let missingTokenUsage = 0;
  let missingPrompt = 0;
  let duplicated = 0;
  let endedWithError = 0;
  for (const id of expected) {
    const row = byId.get(id);
    if (row === undefined) {
      missingInterception += 1;
      notEnded += 1;
      missingTokenUsage += 1;
      missingPrompt += 1;
      continue;
    }
    if (!row.ended) notEnded += 1;
    if (row.failed) endedWithError += 1;
    if (row.tokens < 1) missingTokenUsage += 1;
    if (row.prompts < 1) missingPrompt += 1;
    if (row.tokens > 1 || row.prompts > 1) duplicated += 1;
  }
  let unexpected = 0;
  for (const id of byId.keys()) if (!expected.has(id)) unexpected += 1;
  return {
    expectedInterceptions: expected.size,
    expectedRecords: 4 * expected.size,
    lost: missingInterception + notEnded + missingTokenUsage + missingPrompt,
    missingInterception,
    notEnded,
    missingTokenUsage,
    missingPrompt,
    duplicated,
    endedWithError,
    unexpectedInterceptions: unexpected,
    dbInterceptions: byId.size,
  };
}
