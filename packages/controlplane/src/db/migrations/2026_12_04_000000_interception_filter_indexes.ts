// Indexes for the read API's filters (GET /api/v2/ai-gateway/interceptions?model=|provider=|client=),
// newest first like the list: without them a filter matching few or no rows scanned the whole
// table (about 300 ms per page at a million interceptions, growing with retention), and
// provider + client, whose values the planner wrongly took as independent, walked the entire
// started_at index (3–9 s). The reference indexes provider and model too. client comes first in
// its index so that one index serves client alone and client + provider; and the planner is told
// that the two go together (extended statistics: each client speaks to one provider), or it
// multiplies their frequencies, expects thousands of matches for a pair that has none and walks
// the started_at index instead.
//
// Built inside the migration's transaction (kysely runs each migration in one), so writes to the
// table wait while they are built: about 3 s per index at a million rows.
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX aibridge_interceptions_model_started_idx ON aibridge_interceptions (model, started_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX aibridge_interceptions_provider_started_idx ON aibridge_interceptions (provider, started_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX aibridge_interceptions_client_provider_started_idx ON aibridge_interceptions (client, provider, started_at DESC, id DESC)`.execute(db);
  await sql`CREATE STATISTICS aibridge_interceptions_client_provider_stats (dependencies, mcv) ON client, provider FROM aibridge_interceptions`.execute(db);
  // Extended statistics are empty until the table is analyzed; autovacuum may be off or late.
  await sql`ANALYZE aibridge_interceptions`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP STATISTICS aibridge_interceptions_client_provider_stats`.execute(db);
  await sql`DROP INDEX aibridge_interceptions_client_provider_started_idx`.execute(db);
  await sql`DROP INDEX aibridge_interceptions_provider_started_idx`.execute(db);
  await sql`DROP INDEX aibridge_interceptions_model_started_idx`.execute(db);
}
