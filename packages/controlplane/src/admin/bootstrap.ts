// Bootstrapping the first owner. The admin API only answers owners, so a fresh installation needs
// one created another way: the CLI exposes this as `weir users create --owner --bootstrap`,
// which works on the database directly (like `weir migrate`), never over HTTP. Whoever can run
// it can already write the database, so it grants nothing new; and it refuses once any
// non-deleted, non-system owner exists (active or suspended), so it cannot mint a second owner
// behind the API's back. The API key it returns is shown once and stored only as a hash.
import { sql, type Kysely } from "kysely";
import type { Database } from "../db/schema.js";
import { ownerExists } from "../db/repositories/users-repository.js";
import { generateApiKey, type GeneratedApiKey } from "../keys/api-key.js";
import { issueApiKey } from "./issue-api-key.js";
import { createUser, parseNewUser } from "./new-user.js";
import { toUserResponse, type UserResponse } from "./responses.js";

/** An owner exists already; add more owners through the admin API instead. */
export class OwnerAlreadyExistsError extends Error {
  override readonly name = "OwnerAlreadyExistsError";
  constructor() {
    super("an owner already exists; create further users through the admin API with an owner's API key");
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

/** Two-int advisory lock key ("weir", 1) serialising concurrent bootstraps. */
const BOOTSTRAP_LOCK = [0x77656972, 1] as const;

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
    await sql`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK[0]}, ${BOOTSTRAP_LOCK[1]})`.execute(trx);
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
