// The record tables' children (token usage, prompts, tool usage, thoughts) lose their foreign key
// to aibridge_interceptions, as in the reference (no FKs to the parent table). Every child row
// made Postgres run the referential-integrity trigger and take a KEY SHARE lock on its
// interception's row, which cost about 7–15 µs a row, a fifth to a third of Postgres's share of a
// recorded request. Nothing is lost by it: the writers check that the interception exists
// (RecordBatch in its statement, the 1.0 RPCs before inserting), and interceptions are never
// deleted (should a retention job come, it deletes children with their interceptions).
import { sql, type Kysely } from "kysely";

const CHILD_TABLES = ["aibridge_token_usages", "aibridge_user_prompts", "aibridge_tool_usages", "aibridge_model_thoughts"] as const;

export async function up(db: Kysely<any>): Promise<void> {
  for (const table of CHILD_TABLES) {
    await sql`ALTER TABLE ${sql.table(table)} DROP CONSTRAINT ${sql.id(`${table}_interception_id_fkey`)}`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of CHILD_TABLES) {
    await sql`ALTER TABLE ${sql.table(table)} ADD CONSTRAINT ${sql.id(`${table}_interception_id_fkey`)}
      FOREIGN KEY (interception_id) REFERENCES aibridge_interceptions (id) ON DELETE CASCADE`.execute(db);
  }
}
