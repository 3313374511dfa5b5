// Read API for recorded interceptions (owner only): a filtered, keyset-paginated list, newest
// first by (started_at DESC, id DESC), and one interception by id. In-flight interceptions
// (ended_at null) are included; their children are whatever has been recorded so far.
// Each page and its children are read in one REPEATABLE READ snapshot, so children recorded
// while the page is being read cannot appear for some interceptions and not others.
import type { Kysely } from "kysely";
import {
  findInterceptionById,
  listInterceptionChildren,
  listInterceptions,
  recordedBytes,
  type InterceptionFilter,
  type InterceptionPageRow,
} from "../db/repositories/interceptions-repository.js";
import type { Database } from "../db/schema.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { InvalidRequestError, ResourceNotFoundError, type FieldValidation } from "./errors.js";
import { json } from "./reply.js";
import { toInterceptionResponse, type InterceptionChildRows, type InterceptionResponse } from "./responses.js";
import { uuidParam, type AdminRoute, type RouteDeps } from "./route-context.js";
import { checkRfc3339, microsecondCeiling } from "./rfc3339.js";
import { NUL_DETAIL, hasNul } from "./validation.js";
import { isUuid } from "@weir/proto";

export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;
/**
 * Recorded content one page carries at most (beyond its first interception, which always comes
 * whole): a page of big prompts (pasted logs, fetched documents) would otherwise be hundreds of
 * MB built in memory as one string, blocking the control plane's event loop, gateways' RPCs
 * included, for seconds. A page cut short says so the usual way: a next_cursor.
 */
export const PAGE_CONTENT_BUDGET_BYTES = 8 * 1024 * 1024;
/** The longest name a gateway records (MAX_RECORDED_NAME_BYTES, 4 KiB): each can be filtered by. */
const MAX_FILTER_LENGTH = 4096;

const QUERY_PARAMETERS = ["initiator", "provider", "model", "client", "started_after", "started_before", "limit", "after"] as const;

/**
 * The list's query: every parameter at most once, unknown ones refused (a misspelt filter would
 * otherwise silently widen the result). All problems are reported together.
 */
export function parseInterceptionQuery(query: URLSearchParams): InterceptionFilter {
  const problems: FieldValidation[] = [];
  const seen = new Set<string>();
  for (const name of query.keys()) {
    if (seen.has(name)) continue;
    seen.add(name);
    if (!(QUERY_PARAMETERS as readonly string[]).includes(name)) problems.push({ field: name, detail: "Unknown query parameter." });
    else if (query.getAll(name).length > 1) problems.push({ field: name, detail: "Must be given at most once." });
  }
  const get = (name: (typeof QUERY_PARAMETERS)[number]) => query.get(name) ?? undefined;
  const text = (name: "provider" | "model" | "client") => {
    const value = get(name);
    if (value === undefined) return undefined;
    if (value === "" || value.length > MAX_FILTER_LENGTH) {
      problems.push({ field: name, detail: `Must be 1 to ${MAX_FILTER_LENGTH} characters.` });
      return undefined;
    }
    if (hasNul(value)) {
      problems.push({ field: name, detail: NUL_DETAIL });
      return undefined;
    }
    return value;
  };
  const timestamp = (name: "started_after" | "started_before") => {
    const value = get(name);
    if (value === undefined) return undefined;
    const checked = checkRfc3339(value);
    if (!checked.ok) {
      problems.push({ field: name, detail: checked.detail });
      return undefined;
    }
    // Both bounds round a finer time up: `>= after` and `< before` then hold as written.
    return microsecondCeiling(checked.value);
  };

  const initiatorId = get("initiator");
  if (initiatorId !== undefined && !isUuid(initiatorId)) problems.push({ field: "initiator", detail: "Must be a UUID." });
  const provider = text("provider");
  const model = text("model");
  const client = text("client");
  const startedAfter = timestamp("started_after");
  const startedBefore = timestamp("started_before");
  let limit = DEFAULT_PAGE_SIZE;
  const limitText = get("limit");
  if (limitText !== undefined) {
    limit = /^[0-9]{1,3}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= MAX_PAGE_SIZE)) problems.push({ field: "limit", detail: `Must be an integer from 1 to ${MAX_PAGE_SIZE}.` });
  }
  const afterText = get("after");
  const after = afterText === undefined ? undefined : decodeCursor(afterText);
  if (afterText !== undefined && after === undefined) problems.push({ field: "after", detail: "Must be a next_cursor returned by this endpoint." });

  if (problems.length > 0) throw new InvalidRequestError("Invalid query parameters.", { validations: problems });
  return {
    initiatorId: initiatorId?.toLowerCase(),
    provider,
    model,
    client,
    startedAfter,
    startedBefore,
    after,
    limit,
  };
}

/** The leading rows whose recorded content fits PAGE_CONTENT_BUDGET_BYTES (at least one). */
async function withinBudget(db: Kysely<Database>, rows: InterceptionPageRow[]): Promise<InterceptionPageRow[]> {
  if (rows.length <= 1) return rows;
  const bytes = await recordedBytes(
    db,
    rows.map((r) => r.id),
  );
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    total += bytes.get(rows[i]!.id) ?? 0;
    if (total > PAGE_CONTENT_BUDGET_BYTES && i > 0) return rows.slice(0, i);
  }
  return rows;
}

type ChildLists = { -readonly [K in keyof InterceptionChildRows]: InterceptionChildRows[K][number][] };

/** Maps rows and their children (grouped by interception) to responses, keeping row order. */
async function withChildren(db: Kysely<Database>, rows: readonly InterceptionPageRow[]): Promise<InterceptionResponse[]> {
  const children = await listInterceptionChildren(
    db,
    rows.map((r) => r.id),
  );
  const grouped = new Map<string, ChildLists>();
  const group = (id: string) => {
    let g = grouped.get(id);
    if (g === undefined) grouped.set(id, (g = { prompts: [], tokenUsages: [], toolUsages: [], modelThoughts: [] }));
    return g;
  };
  for (const r of children.prompts) group(r.interception_id).prompts.push(r);
  for (const r of children.tokenUsages) group(r.interception_id).tokenUsages.push(r);
  for (const r of children.toolUsages) group(r.interception_id).toolUsages.push(r);
  for (const r of children.modelThoughts) group(r.interception_id).modelThoughts.push(r);
  return rows.map((row) => toInterceptionResponse(row, group(row.id)));
}

export function interceptionRoutes(deps: RouteDeps): AdminRoute[] {
  const { db } = deps;
  const snapshot = () => db.transaction().setIsolationLevel("repeatable read").setAccessMode("read only");
  return [
    {
      method: "GET",
      pattern: "/api/v2/ai-gateway/interceptions",
      handler: {
        failureMessage: "Failed to list interceptions.",
        async run(ctx) {
          const filter = parseInterceptionQuery(ctx.query);
          const page = await snapshot().execute(async (trx) => {
            // One row more than asked tells whether another page exists.
            const rows = await listInterceptions(trx, { ...filter, limit: filter.limit + 1 });
            const pageRows = await withinBudget(trx, rows.slice(0, filter.limit));
            const last = pageRows.at(-1);
            const more = rows.length > pageRows.length;
            const nextCursor = more && last ? encodeCursor({ startedAt: last.started_at_exact, id: last.id }) : undefined;
            return { interceptions: await withChildren(trx, pageRows), nextCursor };
          });
          return json(200, {
            interceptions: page.interceptions,
            ...(page.nextCursor !== undefined ? { next_cursor: page.nextCursor } : {}),
          });
        },
      },
    },
    {
      method: "GET",
      pattern: "/api/v2/ai-gateway/interceptions/{id}",
      handler: {
        failureMessage: "Failed to get interception.",
        async run(ctx) {
          const id = uuidParam(ctx, "id", "Invalid interception ID.");
          const interception = await snapshot().execute(async (trx) => {
            const row = await findInterceptionById(trx, id);
            return row === undefined ? undefined : (await withChildren(trx, [row]))[0];
          });
          if (interception === undefined) throw new ResourceNotFoundError("Interception not found.");
          return json(200, interception);
        },
      },
    },
  ];
}
