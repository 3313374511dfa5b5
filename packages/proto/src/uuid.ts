// The format of every field the contract documents as "// UUID.", shared by both daemons so
// they agree on what a valid id is.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a UUID in its canonical textual form (any case). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
