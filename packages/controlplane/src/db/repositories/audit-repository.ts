// Audit rows (DESIGN §4: every create/delete writes one). Callers pass the transaction that makes
// the change, so the change and its audit row commit or roll back together.
// SECURITY: `diff` must never contain a secret, a hash of one, or an OAuth token.
import type { Kysely } from "kysely";
import type { AuditAction, Database } from "../schema.js";

export interface NewAuditEntry {
  /** The acting user; null when nobody authenticated (e.g. bootstrapping on the database). */
  readonly userId: string | null;
  readonly action: AuditAction;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly resourceTarget: string;
  readonly statusCode: number;
  readonly diff: Readonly<Record<string, unknown>>;
}

export async function insertAuditLog(db: Kysely<Database>, entry: NewAuditEntry): Promise<void> {
  await db
    .insertInto("audit_logs")
    .values({
      user_id: entry.userId,
      action: entry.action,
      resource_type: entry.resourceType,
      resource_id: entry.resourceId,
      resource_target: entry.resourceTarget,
      status_code: entry.statusCode,
      diff: JSON.stringify(entry.diff),
    })
    .execute();
}
