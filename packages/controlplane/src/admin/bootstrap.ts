// Bootstrapping the first owner. The admin API only answers owners, so a fresh installation needs
// one created another way: the CLI exposes this as `weir users create <name> --bootstrap`,
// which works on the database directly (like `weir migrate`), never over HTTP. Whoever can run
// it can already write the database, so it grants nothing new; and it refuses once any
// non-deleted, non-system owner exists (active or suspended), so it cannot mint a second owner
// behind the API's back. The API key it returns is shown once and stored only as a hash.
// Recovery, the same way (`weir tokens create --user <owner> --recover`): when every active
// owner's API keys have expired, no one can use the admin API; recoverOwnerKey issues a new key
// for an existing active owner, and only then.
import { sql, type Kysely } from "kysely";
import { ADVISORY_LOCKS } from "../db/advisory-locks.js";
import type { Database } from "../db/schema.js";
import { activeOwnerHasUsableApiKey } from "../db/repositories/api-keys-repository.js";
import { findUserByNameOrId, lockActiveOwnerIds, ownerExists } from "../db/repositories/users-repository.js";
import { generateApiKey, type GeneratedApiKey } from "../keys/api-key.js";
import { issueApiKey } from "./issue-api-key.js";
import { createUser, parseNewUser } from "./new-user.js";
import { isActiveOwner } from "./users-routes.js";
import { toCreatedApiKeyResponse, toUserResponse, type CreatedApiKeyResponse, type UserResponse } from "./responses.js";

/** An owner exists already; add more owners through the admin API instead. */
export class OwnerAlreadyExistsError extends Error {
  override readonly name = "OwnerAlreadyExistsError";
  constructor() {
    super(
      "an owner already exists; create further users through the admin API with an owner's API key " +
        "(no owner has a usable key? weir tokens create --user <owner> --recover)",
    );
  }
}
export function isOwnerAlreadyExistsError(err: unknown): err is OwnerAlreadyExistsError {
  return err instanceof Error && err.name === "OwnerAlreadyExistsError";
}

export interface BootstrapOwnerOptions {
  readonly username: string;
  readonly email?: string | undefined;
  /** Name of the API key (default "bootstrap"). */
  readonly keyName?: string | undefined;
  /** Stamps the key's created_at (default: the wall clock). */
  readonly clock?: () => Date;
  /** Tests only. */
  readonly generateApiKey?: () => GeneratedApiKey;
}

export interface BootstrappedOwner {
  readonly user: UserResponse;
  readonly apiKeyId: string;
  /** SECURITY: the owner's API key in plaintext: print it once, never log it. */
  readonly key: string;
}

/** Holds the bootstrap lock until the transaction ends. */
async function lockBootstrap(trx: Kysely<Database>): Promise<void> {
  const [a, b] = ADVISORY_LOCKS.bootstrap;
  await sql`SELECT pg_advisory_xact_lock(${a}, ${b})`.execute(trx);
}

/**
 * Creates the first owner and a non-expiring API key for them, with audit rows (actor null: no
 * one authenticated), in one transaction. Throws OwnerAlreadyExistsError when an owner exists,
 * InvalidRequestError (see errors.ts) for a bad username or email.
 */
export async function bootstrapOwner(db: Kysely<Database>, options: BootstrapOwnerOptions): Promise<BootstrappedOwner> {
  const user = parseNewUser({ username: options.username, email: options.email, role: "owner" });
  const now = (options.clock ?? (() => new Date()))();
  return db.transaction().execute(async (trx) => {
    // Two bootstraps racing would both see "no owner" without this lock.
    await lockBootstrap(trx);
    if (await ownerExists(trx)) throw new OwnerAlreadyExistsError();
    const row = await createUser(trx, user, null);
    const issued = await issueApiKey(
      trx,
      { userId: row.id, name: options.keyName ?? "bootstrap", createdAt: now, expiresAt: null },
      options.generateApiKey ?? generateApiKey,
      null,
    );
    return { user: toUserResponse(row), apiKeyId: issued.record.id, key: issued.key };
  });
}

/** recoverOwnerKey refuses: `message` is one line for the operator, without secrets. */
export class OwnerKeyRecoveryRefusedError extends Error {
  override readonly name = "OwnerKeyRecoveryRefusedError";
}
export function isOwnerKeyRecoveryRefusedError(err: unknown): err is OwnerKeyRecoveryRefusedError {
  return err instanceof Error && err.name === "OwnerKeyRecoveryRefusedError";
}

export interface RecoverOwnerKeyOptions {
  /** The owner, by username (any case) or id. */
  readonly user: string;
  /** Name of the API key (default "recovery"). */
  readonly keyName?: string | undefined;
  /** Decides which keys are expired and stamps the new one (default: the wall clock). */
  readonly clock?: () => Date;
  /**
   * false: issue the key even while owners have usable ones. Only for `weir start`, which owns
   * its embedded database and whose kept key was deleted or has expired. Default true.
   */
  readonly onlyWhileLockedOut?: boolean;
  /** Tests only. */
  readonly generateApiKey?: () => GeneratedApiKey;
}

export interface RecoveredOwnerKey {
  readonly user: UserResponse;
  /** SECURITY: carries the plaintext key: print it once, never log it. */
  readonly apiKey: CreatedApiKeyResponse;
}

/**
 * Issues a non-expiring API key for an active owner, audited with no acting user, but only while
 * no active owner has a usable (unexpired) API key, i.e. while the admin API cannot be used at
 * all (unless onlyWhileLockedOut is false); otherwise throws OwnerKeyRecoveryRefusedError. Takes the bootstrap lock and the active
 * owners' row locks, so it cannot race a bootstrap, another recovery, or an admin change.
 */
export async function recoverOwnerKey(db: Kysely<Database>, options: RecoverOwnerKeyOptions): Promise<RecoveredOwnerKey> {
  const now = (options.clock ?? (() => new Date()))();
  return db.transaction().execute(async (trx) => {
    await lockBootstrap(trx);
    await lockActiveOwnerIds(trx);
    const row = await findUserByNameOrId(trx, options.user);
    if (row === undefined) throw new OwnerKeyRecoveryRefusedError(`no user named or with id ${JSON.stringify(options.user)}`);
    if (row.is_system || !isActiveOwner(row)) {
      throw new OwnerKeyRecoveryRefusedError(`${row.username} is not an active owner; recovery issues keys for active owners only`);
    }
    if (options.onlyWhileLockedOut !== false && (await activeOwnerHasUsableApiKey(trx, now))) {
      throw new OwnerKeyRecoveryRefusedError("an active owner still has a usable API key; create keys through the admin API with it");
    }
    const issued = await issueApiKey(
      trx,
      { userId: row.id, name: options.keyName ?? "recovery", createdAt: now, expiresAt: null },
      options.generateApiKey ?? generateApiKey,
      null,
    );
    return { user: toUserResponse(row), apiKey: toCreatedApiKeyResponse(issued.record, issued.key) };
  });
}
