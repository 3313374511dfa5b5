// The lock that keeps a migration from being reverted under a running control plane. Every
// control plane holds ADVISORY_LOCKS.controlPlaneRunning in shared mode, at session level, on the
// LISTEN connection it keeps anyway (so it costs no connection: the pools keep their sizes), and
// takes it again on every reconnect. Reverting a migration takes it exclusively, with try, in the
// session that runs the down step: while any control plane runs, the revert is refused at once;
// while a revert runs, a control plane starting waits for it (then migrates up again).
// Session-level, not transaction-level: the control plane holds it for as long as it runs.
import { setTimeout as delay } from "node:timers/promises";
import { sql, type Kysely } from "kysely";
import type pg from "pg";
import type { Logger } from "pino";
import { ADVISORY_LOCKS } from "./advisory-locks.js";

const [LOCK_CLASS, LOCK_ID] = ADVISORY_LOCKS.controlPlaneRunning;

/** Why a revert was refused: a control plane holds the lock, or another revert does. */
export type RevertRefusedReason = "control_plane_running" | "revert_running";

const REFUSALS: Record<RevertRefusedReason, string> = {
  control_plane_running: "a control plane is running on this database; stop every control plane before reverting a migration",
  revert_running: "another migration is being reverted on this database; try again once it has finished",
};

/** A migration was not reverted, nothing was touched: something holds the running lock. */
export class RevertRefusedError extends Error {
  override readonly name = "RevertRefusedError";
  constructor(readonly reason: RevertRefusedReason) {
    super(REFUSALS[reason]);
  }
}
export function isRevertRefusedError(err: unknown): err is RevertRefusedError {
  return err instanceof Error && err.name === "RevertRefusedError";
}

/**
 * How often a control plane waiting for a revert to finish tries the lock again. It polls rather
 * than waits inside PostgreSQL: a backend blocked on a lock does not notice its client leaving, so
 * a control plane shut down meanwhile would leave it behind, to take the lock once the revert is
 * over and refuse the next one.
 */
const RETRY_MS = 250;

/**
 * Takes the lock in shared mode in `session`, a control plane's long-lived connection; the
 * session keeps it until it ends. Waits (saying so) while a migration is being reverted; a
 * session closed meanwhile ends the wait with its error.
 */
export async function holdRunningControlPlaneLock(session: pg.Client, logger: Logger): Promise<void> {
  for (let waiting = false; ; await delay(RETRY_MS)) {
    const tried = await session.query<{ held: boolean }>("SELECT pg_try_advisory_lock_shared($1, $2) AS held", [LOCK_CLASS, LOCK_ID]);
    if (tried.rows[0]?.held === true) {
      if (waiting) logger.info("migration revert finished; going on");
      return;
    }
    if (!waiting) logger.warn("a migration is being reverted on this database; waiting for it to finish");
    waiting = true;
  }
}

/**
 * Runs `work` in one session of `db` that holds the lock exclusively, so no control plane runs
 * meanwhile nor can start; throws RevertRefusedError at once (before `work`) when it is held.
 */
export async function withNoControlPlaneRunning<T>(db: Kysely<any>, work: (session: Kysely<any>) => Promise<T>): Promise<T> {
  return db.connection().execute(async (session) => {
    const tried = await sql<{ held: boolean }>`SELECT pg_try_advisory_lock(${LOCK_CLASS}, ${LOCK_ID}) AS held`.execute(session);
    if (tried.rows[0]?.held !== true) throw new RevertRefusedError(await holderReason(session));
    try {
      return await work(session);
    } finally {
      // The session goes back to the pool: it must not keep the lock. One that cannot answer is
      // dead, and its locks ended with it.
      await sql`SELECT pg_advisory_unlock(${LOCK_CLASS}, ${LOCK_ID})`.execute(session).catch(() => undefined);
    }
  });
}

/** Who holds the lock: only a revert holds it exclusively. */
async function holderReason(session: Kysely<any>): Promise<RevertRefusedReason> {
  const holders = await runningLockHolders(session);
  return holders.some((h) => h.granted && h.mode === "ExclusiveLock") ? "revert_running" : "control_plane_running";
}

/** One session's hold on (or wait for) the lock, as pg_locks shows it. */
export interface RunningLockHolder {
  readonly pid: number;
  readonly mode: "ShareLock" | "ExclusiveLock";
  /** False while the session waits for it. */
  readonly granted: boolean;
}

/** The sessions holding or awaiting the lock on `db`'s database, by pid. */
export async function runningLockHolders(db: Kysely<any>): Promise<RunningLockHolder[]> {
  const { rows } = await sql<RunningLockHolder>`
    SELECT pid, mode, granted FROM pg_locks
    WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid = ${LOCK_CLASS}::int::oid AND objid = ${LOCK_ID}::int::oid AND objsubid = 2
    ORDER BY pid, mode`.execute(db);
  return rows;
}
