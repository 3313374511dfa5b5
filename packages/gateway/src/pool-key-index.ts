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

/** Pool keys by user id and by API key id; a group with no keys left is dropped, not kept empty. */
export class PoolKeyIndex {
  private readonly byUser = new Map<string, Set<string>>();
  private readonly byApiKey = new Map<string, Set<string>>();

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

  /** The keys of one user's API keys; the set is the index's own, so it changes as keys leave. */
  ofUser(userId: string): ReadonlySet<string> | undefined {
    return this.byUser.get(userId);
  }

  /** The keys of one API key (one, unless its owner changed); the index's own set, as ofUser. */
  ofApiKey(apiKeyId: string): ReadonlySet<string> | undefined {
    return this.byApiKey.get(apiKeyId);
  }

  contents(): PoolKeyIndexContents {
    return { users: sorted(this.byUser), apiKeys: sorted(this.byApiKey) };
  }
}

function addTo(groups: Map<string, Set<string>>, id: string, key: string): void {
  let keys = groups.get(id);
  if (keys === undefined) {
    keys = new Set();
    groups.set(id, keys);
  }
  keys.add(key);
}

function deleteFrom(groups: Map<string, Set<string>>, id: string, key: string): void {
  const keys = groups.get(id);
  if (keys === undefined) return;
  keys.delete(key);
  if (keys.size === 0) groups.delete(id);
}

function sorted(groups: Map<string, Set<string>>): [string, string[]][] {
  return [...groups].map(([id, keys]): [string, string[]] => [id, [...keys].sort()]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
