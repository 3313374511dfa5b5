// Opaque page cursors of the interceptions list: base64url of {"started_at","id"}, the position
// of the last row of the previous page. started_at keeps Postgres' microseconds (see
// interceptions-repository.ts). A cursor carries no filters; clients repeat them.
import type { InterceptionPosition } from "../db/repositories/interceptions-repository.js";
import { parseRfc3339 } from "./rfc3339.js";
import { isUuid } from "@weir/proto";

const MAX_CURSOR_LENGTH = 256;

export function encodeCursor(position: InterceptionPosition): string {
  return Buffer.from(JSON.stringify({ started_at: position.startedAt, id: position.id }), "utf8").toString("base64url");
}

/** The position in a cursor, or undefined when it is not one this API issued. */
export function decodeCursor(cursor: string): InterceptionPosition | undefined {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { started_at: startedAt, id } = value as { started_at?: unknown; id?: unknown };
  if (typeof startedAt !== "string" || typeof id !== "string" || !isUuid(id)) return undefined;
  const parsed = parseRfc3339(startedAt);
  if (parsed === undefined) return undefined;
  return { startedAt: parsed.text, id };
}
