// Resolves a user given by username or id, for commands that take either.
import type { AdminClient } from "./admin-client.js";
import { CliError } from "./cli-error.js";

export interface User {
  id: string;
  username: string;
  email: string | null;
  role: string;
  status: string;
  is_system: boolean;
  created_at: string;
  /** Listed only with include_deleted=true. */
  deleted?: boolean;
}

/** `users`: the list when the caller has it already (saves a request). */
export async function findUser(client: AdminClient, usernameOrId: string, users?: readonly User[]): Promise<User> {
  users ??= await client.get<User[]>("/api/v2/users");
  const wanted = usernameOrId.toLowerCase();
  const user = users.find((u) => u.username.toLowerCase() === wanted) ?? users.find((u) => u.id === wanted);
  if (!user) throw new CliError(`no user named or with id ${JSON.stringify(usernameOrId)}`);
  return user;
}

/** Every user, deleted ones included (with `deleted`): the initiators of recorded traffic. */
export function listInitiators(client: AdminClient): Promise<User[]> {
  return client.get<User[]>("/api/v2/users?include_deleted=true");
}

/**
 * The user whose traffic an audit asks for, by username or id among `initiators`
 * (listInitiators): the active user of that name, or else the deleted one (names are freed by
 * deletion, so several deleted users may have had it: then their ids are asked for).
 */
export function findInitiator(usernameOrId: string, initiators: readonly User[]): User {
  const wanted = usernameOrId.toLowerCase();
  const named = initiators.filter((u) => u.username.toLowerCase() === wanted);
  const active = named.find((u) => u.deleted !== true);
  if (active !== undefined) return active;
  if (named.length > 1) {
    throw new CliError(`${named.length} deleted users were named ${JSON.stringify(usernameOrId)}: give one's id (${named.map((u) => u.id).join(", ")})`);
  }
  const user = named[0] ?? initiators.find((u) => u.id === wanted);
  if (!user) throw new CliError(`no user named or with id ${JSON.stringify(usernameOrId)}`);
  return user;
}
