// UUID path and query parameters are checked here before they reach Postgres (which would
// otherwise answer a malformed one with an error, i.e. a 500).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
