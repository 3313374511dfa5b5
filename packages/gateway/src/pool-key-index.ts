// The handler pool's key, "<userId>|<apiKeyId>", and an index of pooled keys by user and by API
// key, so a pushed change to one key or user finds its handlers without a walk of the whole pool.
// The front builds keys only for owner ids that are UUIDs (no separator in them), so the first
// separator splits a key exactly; a key without one (tests key by plain labels) belongs to no
// user or API key, and only revokeAll reaches it.

const KEY_SEPARATOR = "|";

/** The pool key of a user's handler: a different API key of the same user gets its own handler. */
export function poolKey(userId: string, apiKeyId: string): string {
  return `${userId}${KEY_SEPARATOR}${apiKeyId}`;
}

/** An index's contents in a fixed order (ids sorted, keys sorted), for comparing two indexes. */
export interface PoolKeyIndexContents {
  readonly users: readonly (readonly [string, readonly string[]])[];
  readonly apiKeys: readonly (readonly [string, readonly string[]])[];
}

/**
 * Pool keys by user id and by API key id. Most users have one key pooled and an API key has one
 * owner, so a group of one is held as the key itself, and only a second key makes it a Set: no
 * two Sets per pooled handler. A group with no keys left is dropped, not kept empty.
 */
export class PoolKeyIndex {
  private readonly byUser = new Map<string, Group>();
  private readonly byApiKey = new Map<string, Group>();

  add(key: string): void {
    const at = key.indexOf(KEY_SEPARATOR);
    if (at < 0) return;
    addTo(this.byUser, key.slice(0, at), key);
    addTo(this.byApiKey, key.slice(at + 1), key);
  }

  delete(key: string): void {
    const at = key.indexOf(KEY_SEPARATOR);
    if (at < 0) return;
    deleteFrom(this.byUser, key.slice(0, at), key);
    deleteFrom(this.byApiKey, key.slice(at + 1), key);
  }

  /** The keys of one user's API keys, as they are now (a copy: the caller may delete them). */
  ofUser(userId: string): readonly string[] {
    return list(this.byUser.get(userId));
  }

  /** The keys of one API key (one, unless its owner changed), as ofUser. */
  ofApiKey(apiKeyId: string): readonly string[] {
    return list(this.byApiKey.get(apiKeyId));
  }

  contents(): PoolKeyIndexContents {
    return { users: sorted(this.byUser), apiKeys: sorted(this.byApiKey) };
  }
}

/** One key, or a Set of two or more. */
type Group = string | Set<string>;

function addTo(groups: Map<string, Group>, id: string, key: string): void {
  const group = groups.get(id);
  if (group === undefined) groups.set(id, key);
  else if (typeof group !== "string") group.add(key);
  else if (group !== key) groups.set(id, new Set([group, key]));
}

function deleteFrom(groups: Map<string, Group>, id: string, key: string): void {
  const group = groups.get(id);
  if (group === undefined) return;
  if (typeof group === "string") {
    if (group === key) groups.delete(id);
    return;
  }
  group.delete(key);
  if (group.size === 0) groups.delete(id);
}

const NO_KEYS: readonly string[] = Object.freeze([]);

function list(group: Group | undefined): readonly string[] {
  if (group === undefined) return NO_KEYS;
  return typeof group === "string" ? [group] : [...group];
}

function sorted(groups: Map<string, Group>): [string, string[]][] {
  return [...groups].map(([id, group]): [string, string[]] => [id, [...list(group)].sort()]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
