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
}

/** `users`: the list when the caller has it already (saves a request). */
export async function findUser(client: AdminClient, usernameOrId: string, users?: readonly User[]): Promise<User> {
  users ??= await client.get<User[]>("/api/v2/users");
  const wanted = usernameOrId.toLowerCase();
  const user = users.find((u) => u.username.toLowerCase() === wanted) ?? users.find((u) => u.id === wanted);
  if (!user) throw new CliError(`no user named or with id ${JSON.stringify(usernameOrId)}`);
  return user;
}
