// Migrations are reversible and idempotent: up -> down -> up leaves exactly the same schema,
// and running up again changes nothing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { sql, type Kysely } from "kysely";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { migrateDown, migrateToLatest } from "./migrate.js";
import { MIGRATIONS } from "./migrations/index.js";

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

// Everything that makes up the schema, in a stable order.
async function schema(db: Kysely<any>): Promise<unknown> {
  const columns = await sql`
    SELECT table_name, column_name, data_type, is_nullable, column_default
    FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'
    ORDER BY table_name, column_name`.execute(db);
  const constraints = await sql`
    SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS def
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE 'kysely_%'
    ORDER BY 1, 2`.execute(db);
  const indexes = await sql`
    SELECT tablename, indexname, indexdef FROM pg_indexes
    WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely_%' ORDER BY 1, 2`.execute(db);
  return { columns: columns.rows, constraints: constraints.rows, indexes: indexes.rows };
}

describe("migrations", () => {
  it("up -> down -> up leaves the same schema", async () => {
    const migrated = await schema(t.db);
    let reverted = 0;
    while (await migrateDown(t.db)) reverted++;
    assert.equal(reverted, Object.keys(MIGRATIONS).length);
    const empty = (await schema(t.db)) as { columns: unknown[] };
    assert.deepEqual(empty.columns, []);
    assert.deepEqual(await migrateToLatest(t.db), Object.keys(MIGRATIONS));
    assert.deepEqual(await schema(t.db), migrated);
  });

  it("running up again applies nothing", async () => {
    assert.deepEqual(await migrateToLatest(t.db), []);
  });
});
