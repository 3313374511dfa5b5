// The control-plane daemon (DESIGN §4, §7): one address serving Connect RPC to gateways
// (HTTP/2, h2c in cleartext), the admin API, /healthz, /readyz and /metrics (HTTP/1.1 too, for
// curl and probes). start() opens (and migrates) the database; shutdown() is idempotent: stop
// accepting, drain connections within a deadline, flush key-usage writes, close the database.
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo, Server } from "node:net";
import { createContextValues } from "@connectrpc/connect";
import type { ContextValues, Transport } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { sql, type Kysely } from "kysely";
import type { Logger } from "pino";
import { createAdminApi } from "./admin/admin-api.js";
import { AuthorizationChangeHub } from "./auth/authorization-change-hub.js";
import { systemClock, type Clock } from "./clock.js";
import { DEFAULT_EMBEDDED_DATA_DIR, createKysely, openDatabase, type OpenDatabase } from "./db/database.js";
import { migrateToLatest } from "./db/migrate.js";
import { holdRunningControlPlaneLock } from "./db/running-control-plane-lock.js";
import type { Database } from "./db/schema.js";
import { LogThrottle } from "./log-throttle.js";
import { ControlPlaneMetrics } from "./metrics.js";
import { oneLineError } from "./one-line-error.js";
import { createGatewayAuthInterceptor } from "./rpc/gateway-auth-interceptor.js";
import { DEFAULT_GATEWAY_KEY_USAGE_INTERVAL_MS, GatewayKeyUsageTracker } from "./rpc/gateway-key-usage.js";
import { createInProcessTransport } from "./rpc/in-process-transport.js";
import { createRpcMetricsInterceptor } from "./rpc/rpc-metrics-interceptor.js";
import { createCleartextListener } from "./server/cleartext-listener.js";
import { ConnectionTracker, type HttpRequest, type HttpResponse } from "./server/connection-tracker.js";
import { resolveMounts, type MountedHandler } from "./server/mounts.js";
import { certificateSummary, readTlsCredentials, type TlsFiles } from "./server/tls-credentials.js";
import { createGatewayKeyGate } from "./rpc/gateway-key-gate.js";
import { GATEWAY_KEY_CONTEXT } from "./rpc/rpc-context.js";
import { createRequestHandler, notFound, type AdminApi } from "./server/request-handler.js";
import { registerRecordBatchFastPath } from "./rpc/record-batch-fast-path.js";
import { RecordPurger } from "./retention/record-purger.js";
import { registerServices } from "./services/register-services.js";
import type { ServiceDeps } from "./services/service-deps.js";

// The admin API gets a pool of its own, small and with a statement timeout: lists over months
// of records, however many an owner or a dashboard sends at once, cannot take the connections
// that recording and authorization need, and a runaway query is cancelled.
const ADMIN_POOL_SIZE = 4;

/** Accept backlog of the control plane's listener (Node's default is 511). */
const LISTEN_BACKLOG = 4096;

/**
 * Memory one HTTP/2 session (one gateway replica) may hold, in MB. Node's default, 10, is less
 * than a few RecordBatch messages of readMaxBytes (4 MiB) in flight at once: past it nghttp2
 * resets streams (ENHANCE_YOUR_CALM) before Connect can answer a too-large message with
 * ResourceExhausted, and the replica's authorizations on the same session fail with them.
 */
const HTTP2_SESSION_MEMORY_MB = 128;

/** host:port to listen on; port 0 picks a free port (read it back from `url`). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export type { TlsFiles } from "./server/tls-credentials.js";

export interface ControlPlaneOptions {
  readonly listen?: ListenAddress;
  /** postgres:// URL; without it an embedded Postgres runs in embeddedDataDir. */
  readonly databaseUrl?: string | undefined;
  /** A file holding databaseUrl's password, read at every new connection (db/password-file.ts). */
  readonly databasePasswordFile?: string | undefined;
  readonly embeddedDataDir?: string | undefined;
  readonly tls?: TlsFiles | undefined;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Largest RPC message accepted, in bytes (larger ones get ResourceExhausted). */
  readonly readMaxBytes?: number;
  /** How long shutdown waits for in-flight requests before closing connections. */
  readonly drainTimeoutMs?: number;
  /**
   * How long an HTTP/1.1 request's headers may take to arrive (a 408 and the socket closed
   * after): a client trickling header lines would otherwise hold its socket for good.
   */
  readonly http1HeadersTimeoutMs?: number;
  /** Minimum time between two last_used_at writes for one gateway key. */
  readonly gatewayKeyUsageIntervalMs?: number;
  /**
   * Extra request handlers served on this address under their path prefixes (HTTP/1.1 and
   * HTTP/2 requests), matched before the admin API and the RPC services. The single-process
   * deployment mounts an embedded gateway's LLM routes here (see server/mounts.ts).
   */
  readonly mounts?: readonly MountedHandler[];
  /**
   * Recorded traffic (interceptions and their token usages, prompts, tool usages, thoughts) is
   * deleted once it started longer ago than this; 0 keeps it forever. Default 60 days.
   */
  readonly recordRetentionMs?: number;
  /** Time between two purges of recorded traffic past the retention period. Default 10 minutes. */
  readonly recordPurgeIntervalMs?: number;
  /** Interceptions deleted per purge transaction. Default 5,000. */
  readonly recordPurgeBatchSize?: number;
  /** The admin API's statement timeout (its requests then get 503). Default 15 s. */
  readonly adminStatementTimeoutMs?: number;
  /** How long start() keeps retrying a database server it cannot reach. Default 60 s; 0: fail at once. */
  readonly databaseWaitMs?: number;
}

/** Every default of ControlPlaneOptions, in one place. */
export const CONTROL_PLANE_DEFAULTS = Object.freeze({
  listen: Object.freeze({ host: "127.0.0.1", port: 7080 }),
  embeddedDataDir: DEFAULT_EMBEDDED_DATA_DIR,
  clock: systemClock,
  readMaxBytes: 4 * 1024 * 1024, // the reference's 4 << 20
  drainTimeoutMs: 5_000,
  http1HeadersTimeoutMs: 20_000,
  gatewayKeyUsageIntervalMs: DEFAULT_GATEWAY_KEY_USAGE_INTERVAL_MS,
  recordRetentionMs: 60 * 86_400_000, // the reference's --aibridge-retention default, 60d
  recordPurgeIntervalMs: 10 * 60_000,
  recordPurgeBatchSize: 5_000,
  adminStatementTimeoutMs: 15_000,
  databaseWaitMs: 60_000,
});

/** Options with every default applied; frozen. */
export interface ResolvedControlPlaneOptions {
  readonly listen: ListenAddress;
  readonly databaseUrl: string | undefined;
  readonly databasePasswordFile: string | undefined;
  readonly embeddedDataDir: string;
  readonly tls: TlsFiles | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly readMaxBytes: number;
  readonly drainTimeoutMs: number;
  readonly http1HeadersTimeoutMs: number;
  readonly gatewayKeyUsageIntervalMs: number;
  readonly mounts: readonly MountedHandler[];
  readonly recordRetentionMs: number;
  readonly recordPurgeIntervalMs: number;
  readonly recordPurgeBatchSize: number;
  readonly adminStatementTimeoutMs: number;
  readonly databaseWaitMs: number;
}

const READY_TIMEOUT_MS = 2_000;
/**
 * How long a TLS client may take to finish its handshake. Node's default, 120 s, lets anyone
 * who opens connections and sends nothing hold a socket each for two minutes.
 */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
// HTTP/1.1 sockets idle this long are closed (the idle timeout restarts at every byte: slow
// headers are bounded by http1HeadersTimeoutMs).
const HTTP1_IDLE_TIMEOUT_MS = 60_000;

/** Longest record retention: beyond about 100 years the cut-off is no date PostgreSQL takes. */
const MAX_RECORD_RETENTION_MS = 36_500 * 86_400_000;
/** Shortest (but 0, forever): anything shorter could purge interceptions still being recorded. */
const MIN_RECORD_RETENTION_MS = 3_600_000;

function resolveOptions(options: ControlPlaneOptions): ResolvedControlPlaneOptions {
  const d = CONTROL_PLANE_DEFAULTS;
  const retention = options.recordRetentionMs ?? d.recordRetentionMs;
  if (!Number.isFinite(retention) || (retention !== 0 && (retention < MIN_RECORD_RETENTION_MS || retention > MAX_RECORD_RETENTION_MS))) {
    throw new RangeError(`recordRetentionMs must be 0 (keep forever) or from ${MIN_RECORD_RETENTION_MS} (1 hour) to ${MAX_RECORD_RETENTION_MS} (100 years), got ${retention}`);
  }
  for (const [name, value] of [
    ["recordPurgeIntervalMs", options.recordPurgeIntervalMs],
    ["recordPurgeBatchSize", options.recordPurgeBatchSize],
  ] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) throw new RangeError(`${name} must be a positive whole number, got ${value}`);
  }
  return Object.freeze({
    listen: Object.freeze({ ...(options.listen ?? d.listen) }),
    databaseUrl: options.databaseUrl || undefined,
    databasePasswordFile: options.databasePasswordFile || undefined,
    embeddedDataDir: options.embeddedDataDir || d.embeddedDataDir,
    tls: options.tls && Object.freeze({ ...options.tls }),
    logger: options.logger,
    clock: options.clock ?? d.clock,
    readMaxBytes: options.readMaxBytes ?? d.readMaxBytes,
    drainTimeoutMs: options.drainTimeoutMs ?? d.drainTimeoutMs,
    http1HeadersTimeoutMs: options.http1HeadersTimeoutMs ?? d.http1HeadersTimeoutMs,
    gatewayKeyUsageIntervalMs: options.gatewayKeyUsageIntervalMs ?? d.gatewayKeyUsageIntervalMs,
    mounts: resolveMounts(options.mounts),
    recordRetentionMs: retention,
    recordPurgeIntervalMs: options.recordPurgeIntervalMs ?? d.recordPurgeIntervalMs,
    recordPurgeBatchSize: options.recordPurgeBatchSize ?? d.recordPurgeBatchSize,
    adminStatementTimeoutMs: options.adminStatementTimeoutMs ?? d.adminStatementTimeoutMs,
    databaseWaitMs: options.databaseWaitMs ?? d.databaseWaitMs,
  });
}

function formatUrl(tls: boolean, address: AddressInfo): string {
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `${tls ? "https" : "http"}://${host}:${address.port}`;
}

interface Running {
  readonly database: OpenDatabase;
  /** The admin API's own pool on the same database. */
  readonly adminDb: Kysely<Database>;
  /** The listening server: TLS (h2 + http/1.1 by ALPN) or the cleartext sniffing listener. */
  readonly server: Server;
  readonly tracker: ConnectionTracker;
  readonly usage: GatewayKeyUsageTracker;
  /** Deletes recorded traffic past the retention period; undefined when it is kept forever. */
  readonly purger: RecordPurger | undefined;
  readonly url: string;
}

export class ControlPlane {
  readonly options: ResolvedControlPlaneOptions;
  readonly metrics = new ControlPlaneMetrics();
  private readonly logger: Logger;
  private readonly readinessLog = new LogThrottle(5_000);
  private running: Running | undefined;
  /** Tells gateways about authorization changes (WatchAuthorizationChanges); set by start(). */
  private authorizationChanges: AuthorizationChangeHub | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Stops the cleartext HTTP/1.1 server's timeout checks (set by start() without TLS). */
  private stopHttp1Checks: (() => void) | undefined;
  /** Aborted by shutdown(): a start still waiting for its database gives up. */
  private readonly startAbort = new AbortController();

  constructor(options: ControlPlaneOptions) {
    this.options = resolveOptions(options);
    this.logger = this.options.logger.child({ component: "control_plane" });
  }

  /** The base URL clients use, e.g. http://127.0.0.1:7080. Only after start(). */
  get url(): string {
    return this.mustBeRunning().url;
  }

  /** The database (for embedding code such as `weir start`). Only after start(). */
  get db(): Kysely<Database> {
    return this.mustBeRunning().database.db;
  }

  /** Opens the database (migrating it) and starts serving. */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error("control plane was shut down"));
    this.starting ??= this.doStart();
    return this.starting;
  }

  /**
   * A transport to this control plane's services that never leaves the process (for an
   * embedded gateway). Only after start().
   */
  createInProcessTransport(): Transport {
    return createInProcessTransport(this.serviceDeps(this.mustBeRunning().database.db));
  }

  /** Stops accepting, drains connections (bounded), flushes key-usage writes, closes the DB. Idempotent. */
  shutdown(): Promise<void> {
    this.startAbort.abort(new Error("control plane shut down while starting"));
    this.stopping ??= this.doShutdown();
    return this.stopping;
  }

  /**
   * Reads options.tls's files again and serves new connections with them (open connections,
   * gateways' HTTP/2 sessions among them, keep theirs): how a renewed certificate is taken
   * without a restart. Files that cannot serve reject, and the previous certificate stays.
   * Callers run reloads one at a time (`weir`'s SIGHUP handler queues them).
   */
  async reloadTls(): Promise<void> {
    const files = this.options.tls;
    if (files === undefined) throw new Error("this control plane serves no TLS: it has no tls files to reload");
    const { server } = this.mustBeRunning();
    const tls = await readTlsCredentials(files);
    // With options.tls the listener is the HTTP/2 secure server.
    (server as http2.Http2SecureServer).setSecureContext(tls);
    this.logger.info({ tls_certificate: this.servedCertificate(tls.cert) }, "TLS certificate reloaded");
  }

  /** The certificate now served: its expiry goes to the gauge, its summary to the log line. */
  private servedCertificate(cert: Buffer): ReturnType<typeof certificateSummary> {
    const summary = certificateSummary(cert);
    this.metrics.setCertificateExpiry(Date.parse(summary.not_after) / 1000);
    return summary;
  }

  private mustBeRunning(): Running {
    if (!this.running) throw new Error("control plane is not running: call start() first");
    return this.running;
  }

  private serviceDeps(db: Kysely<Database>, gatewayKeyUsage?: GatewayKeyUsageTracker): ServiceDeps {
    return { db, logger: this.options.logger, clock: this.options.clock, metrics: this.metrics, authorizationChanges: this.authorizationChanges, gatewayKeyUsage };
  }

  private async doStart(): Promise<void> {
    const { options, logger } = this;
    const tls = options.tls && (await readTlsCredentials(options.tls));
    // Migrated below, once the running lock is held.
    const database = await openDatabase({
      url: options.databaseUrl,
      passwordFile: options.databasePasswordFile,
      embeddedDataDir: options.embeddedDataDir,
      logger: options.logger,
      waitForServerMs: options.databaseWaitMs,
      signal: this.startAbort.signal,
      migrate: false,
    });
    let adminDb: Kysely<Database> | undefined;
    try {
      const { db } = database;
      // One LISTEN connection per control plane; a failed first attempt retries in the background.
      // Its every session holds the running lock, so no migration is reverted under this control
      // plane; taken before migrating, so none can be reverted between the migration and serving.
      const hub = new AuthorizationChangeHub({
        url: database.url,
        password: database.password,
        db,
        logger: options.logger,
        prepareListenSession: (client) => holdRunningControlPlaneLock(client, logger),
      });
      this.authorizationChanges = hub;
      // A shutdown while the lock is awaited (a revert still asking its operator) gives up at once.
      const giveUp = (): void => void hub.close();
      this.startAbort.signal.addEventListener("abort", giveUp, { once: true });
      try {
        await hub.start();
      } finally {
        this.startAbort.signal.removeEventListener("abort", giveUp);
      }
      this.startAbort.signal.throwIfAborted();
      const applied = await migrateToLatest(db);
      if (applied.length > 0) logger.info({ migrations: applied }, "database migrated");
      const usage = new GatewayKeyUsageTracker({ db, logger: options.logger, clock: options.clock, intervalMs: options.gatewayKeyUsageIntervalMs });
      const interceptors = [createRpcMetricsInterceptor(this.metrics), createGatewayAuthInterceptor({ db, logger: options.logger, usage })];
      const fallback = (req: unknown, res: unknown): void => notFound(req as HttpRequest, res as HttpResponse);
      const deps = this.serviceDeps(db, usage);
      // Compressed requests are not taken: gateways send none, and a small gzip body would make
      // the control plane inflate up to readMaxBytes before anything else is checked.
      const gate = createGatewayKeyGate({ db, logger: options.logger, metrics: this.metrics });
      // The key the gate found goes on with its request, for the interceptor.
      const contextValues = (req: unknown): ContextValues => {
        const values = createContextValues();
        const key = gate.accepted(req as object);
        if (key !== undefined) values.set(GATEWAY_KEY_CONTEXT, key);
        return values;
      };
      const rpc = connectNodeAdapter({ routes: (router) => registerServices(router, deps), readMaxBytes: options.readMaxBytes, acceptCompression: [], interceptors, fallback, contextValues });
      // Binary RecordBatch calls, decoded without reflection; same path, interceptors and limits.
      const binaryRecordBatch = connectNodeAdapter({
        routes: (router) => registerRecordBatchFastPath(router, deps),
        readMaxBytes: options.readMaxBytes,
        acceptCompression: [],
        interceptors,
        fallback,
        contextValues,
      });
      // Every /api/v2/ path goes to the admin API (src/admin/admin-api.ts); it counts its own requests.
      adminDb = createKysely(database.url, ADMIN_POOL_SIZE, options.logger, { statementTimeoutMs: options.adminStatementTimeoutMs, password: database.password });
      const admin: AdminApi = createAdminApi({ db: adminDb, logger: options.logger, clock: () => options.clock.now(), registry: this.metrics.registry });
      const tracker = new ConnectionTracker();
      const handler = createRequestHandler({
        rpc: rpc as (req: HttpRequest, res: HttpResponse) => void,
        binaryRecordBatch: binaryRecordBatch as (req: HttpRequest, res: HttpResponse) => void,
        gatewayKeyGate: gate,
        admin,
        metrics: this.metrics,
        tracker,
        ready: () => this.databaseAnswers(db),
        logger: options.logger,
        mounts: options.mounts,
      });
      let server: Server;
      if (tls) {
        const secure = http2.createSecureServer(
          { ...tls, allowHTTP1: true, maxSessionMemory: HTTP2_SESSION_MEMORY_MB, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS },
          handler,
        );
        // Its HTTP/1.1 fallback has Node's own checks, read when it starts listening: the same
        // bound as cleartext, checked as often. (Node's types do not declare the two properties.)
        Object.assign(secure, { headersTimeout: options.http1HeadersTimeoutMs, connectionsCheckingInterval: 1_000 });
        secure.on("checkContinue", handler.checkContinue);
        tracker.trackSessions(secure);
        server = secure;
      } else {
        const h2 = http2.createServer({ maxSessionMemory: HTTP2_SESSION_MEMORY_MB }, handler);
        // Checked every second: a few connections' timestamps compared, and a slow client is
        // cut off within a second of its deadline rather than up to Node's default 30 s later.
        const headersTimeout = options.http1HeadersTimeoutMs;
        const h1 = http.createServer({ headersTimeout, requestTimeout: Math.max(300_000, headersTimeout), connectionsCheckingInterval: 1_000 }, handler);
        h1.timeout = HTTP1_IDLE_TIMEOUT_MS;
        h2.on("checkContinue", handler.checkContinue);
        h1.on("checkContinue", handler.checkContinue);
        // It never listens itself (the cleartext listener hands it its sockets), and Node starts
        // the checks of headersTimeout and requestTimeout when a server is listening: told so.
        h1.emit("listening");
        this.stopHttp1Checks = () => h1.close();
        tracker.trackSessions(h2);
        server = createCleartextListener(h2, h1);
      }
      tracker.trackSockets(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        // Many gateway replicas reconnect at once after a restart: a larger accept backlog than
        // Node's 511 (the kernel caps it at net.core.somaxconn).
        server.listen({ port: options.listen.port, host: options.listen.host, backlog: LISTEN_BACKLOG }, () => {
          server.off("error", reject);
          resolve();
        });
      });
      server.on("error", (err) => logger.error({ err }, "http server error"));
      const url = formatUrl(tls !== undefined, server.address() as AddressInfo);
      const purger = this.startPurger(db);
      this.running = { database, adminDb, server, tracker, usage, purger, url };
      logger.info(
        {
          url,
          tls: tls !== undefined,
          ...(tls === undefined ? {} : { tls_certificate: this.servedCertificate(tls.cert) }),
          embedded_database: database.embedded,
          record_retention_seconds: options.recordRetentionMs / 1000,
        },
        "control plane listening",
      );
    } catch (err) {
      await this.authorizationChanges?.close();
      await adminDb?.destroy();
      await database.close();
      throw err;
    }
  }

  private startPurger(db: Kysely<Database>): RecordPurger | undefined {
    const { recordRetentionMs, recordPurgeIntervalMs, recordPurgeBatchSize, logger, clock } = this.options;
    if (recordRetentionMs <= 0) return undefined;
    const purger = new RecordPurger({
      db,
      logger,
      clock,
      retentionMs: recordRetentionMs,
      intervalMs: recordPurgeIntervalMs,
      batchSize: recordPurgeBatchSize,
      purged: this.metrics.recordsPurged,
    });
    purger.start();
    return purger;
  }

  private async databaseAnswers(db: Kysely<Database>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
      timer.unref();
    });
    try {
      return await Promise.race([sql`SELECT 1`.execute(db).then(() => true), timeout]);
    } catch (err) {
      // Probed every few seconds by every load balancer: one line per 5 s, without a stack.
      const held = this.readinessLog.take("not answering");
      if (held !== undefined) this.logger.warn({ err: oneLineError(err), held_back: held }, "database not answering");
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  private async doShutdown(): Promise<void> {
    if (this.starting) await this.starting.catch(() => {}); // a failed start cleaned up after itself
    const running = this.running;
    if (!running) return;
    const { server, tracker, usage, purger, database, adminDb } = running;
    // Watch streams never finish on their own: end them first so draining does not wait for them.
    // The LISTEN connection itself closes last: its session holds the running lock, and no
    // migration may be reverted before this control plane's last write.
    this.authorizationChanges?.endSubscriptions();
    this.logger.info({ open_connections: tracker.openConnections }, "control plane shutting down");
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    tracker.drain();
    const deadline = setTimeout(() => {
      this.logger.warn({ open_connections: tracker.openConnections }, "drain deadline passed; closing connections");
      tracker.destroyAll();
    }, this.options.drainTimeoutMs);
    deadline.unref();
    await closed;
    clearTimeout(deadline);
    this.stopHttp1Checks?.();
    await usage.close();
    await purger?.close();
    await adminDb.destroy();
    await this.authorizationChanges?.close();
    await database.close();
    this.running = undefined;
    this.logger.info("control plane stopped");
  }
}

export function createControlPlane(options: ControlPlaneOptions): ControlPlane {
  return new ControlPlane(options);
}
