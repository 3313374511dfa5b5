// The admin API answers only owners' API keys, so it refuses the changes that would leave no
// active owner with a key to use: deleting the last such key (409), and demoting, suspending or
// deleting the only owner who holds one (409; the last active owner is refused before that, 400).
// A key counts only if it is still valid an hour from now: a key about to expire is no way in
// (the time to create another is what the guard keeps). Both refusals come before anything is
// lost: the callers throw inside the transaction that made the change, which rolls it back.
// Callers hold the active owners' row locks (lockActiveOwnerIds), so two changes cannot both
// see the other's key as the one that remains.
import type { Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { activeOwnerHasUsableApiKey } from "../db/repositories/api-keys-repository.js";
import { ConflictError } from "./errors.js";

export const LAST_OWNER_KEY = "Cannot delete the last usable API key of the active owners.";
export const LAST_OWNER_KEY_DETAIL = "Create another API key for an active owner first, valid for at least an hour.";
export const LAST_KEY_HOLDER = "Cannot demote, suspend or delete the only active owner with a usable API key.";
export const LAST_KEY_HOLDER_DETAIL = "Create an API key for another active owner first, valid for at least an hour.";

/** How long a key must stay valid to count as a way into the admin API. */
export const LASTING_KEY_MS = 60 * 60_000;

function lastingFrom(now: Date): Date {
  return new Date(now.getTime() + LASTING_KEY_MS);
}

/**
 * After an active owner's key `deleted` was deleted (in this transaction): refuses when it was a
 * lasting key and no lasting key of an active owner remains. Keys about to expire may always go.
 */
export async function refuseLosingLastOwnerKey(trx: Kysely<Database>, deleted: { readonly expires_at: Date | null }, now: Date): Promise<void> {
  const lastsUntil = lastingFrom(now);
  const lasting = deleted.expires_at === null || deleted.expires_at.getTime() > lastsUntil.getTime();
  if (lasting && !(await activeOwnerHasUsableApiKey(trx, lastsUntil))) {
    throw new ConflictError(LAST_OWNER_KEY, { detail: LAST_OWNER_KEY_DETAIL });
  }
}

/**
 * Before active owner `userId` stops being one: refuses when they hold the only lasting keys of
 * the active owners. When no owner holds one (they have all expired), the change is not what
 * locks anyone out, and goes ahead.
 */
export async function refuseLosingLastKeyHolder(trx: Kysely<Database>, userId: string, now: Date): Promise<void> {
  const lastsUntil = lastingFrom(now);
  // Another owner holding one (the usual answer) settles it in one query; else, whether any does.
  if (!(await activeOwnerHasUsableApiKey(trx, lastsUntil, { exceptUserId: userId })) && (await activeOwnerHasUsableApiKey(trx, lastsUntil))) {
    throw new ConflictError(LAST_KEY_HOLDER, { detail: LAST_KEY_HOLDER_DETAIL });
  }
}
