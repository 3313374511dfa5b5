// One dedicated Postgres connection that LISTENs on a channel (DESIGN §4: authorization changes
// cross control-plane replicas through LISTEN/NOTIFY). Pooled connections cannot listen — a
// LISTEN lasts as long as its session — so this holds its own pg.Client for the daemon's life,
// reconnecting with exponential backoff (and jitter) whenever the connection fails or ends.
// Notifications sent while it was disconnected are lost; onConnected(true) tells the owner so
// it can make up for them.
import pg from "pg";
import type { Logger } from "pino";
import { backoffDelay } from "../backoff.js";
import { systemTimers, type Timers } from "../timers.js";
import { DATABASE_CONNECT_TIMEOUT_MS, databaseClient } from "./database.js";
import type { PasswordSource } from "./password-file.js";

export interface NotificationListenerOptions {
  /** postgres:// URL. SECURITY: may contain a password; never logged. */
  readonly url: string;
  /** Asked at every login instead of the URL's password (password-file.ts). */
  readonly password?: PasswordSource | undefined;
  readonly channel: string;
  readonly logger: Logger;
  /**
   * Runs on every new session, before its LISTEN: what must hold for as long as this connection
   * lives, and be set up again after a reconnect (the control plane takes its running lock here,
   * see running-control-plane-lock.ts). A failure counts as a failed connection attempt.
   */
  readonly prepareSession?: (client: pg.Client) => Promise<void>;
  /** Every notification's payload, in the order Postgres delivered them. */
  readonly onNotification: (payload: string) => void;
  /** The LISTEN is in place; `reconnected` is false only for the very first connection. */
  readonly onConnected?: (reconnected: boolean) => void;
  /** The connection was lost (or a connection attempt failed while connected was true). */
  readonly onDisconnected?: (err: unknown) => void;
  /** First reconnect delay; doubles per failure up to maxBackoffMs. Default 100 ms. */
  readonly initialBackoffMs?: number;
  /** Default 5 s. */
  readonly maxBackoffMs?: number;
  /**
   * How often the connection is asked to answer a `SELECT 1`, and how long the answer may take
   * before the connection counts as lost. Default 5 s and 5 s.
   */
  readonly heartbeatIntervalMs?: number;
  readonly heartbeatTimeoutMs?: number;
  readonly timers?: Timers;
}

const DEFAULT_INITIAL_BACKOFF_MS = 100;
const DEFAULT_MAX_BACKOFF_MS = 5_000;
// A LISTEN connection is silent by nature, so a server that hangs, or a path to it that drops
// packets, goes unnoticed: no error, no end, and TCP keepalive takes minutes. Notifications would
// then be lost while subscribers believe they hear every change (a revoked key stays cached in
// gateways). A periodic query bounds how long that can last.
const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;
const DEFAULT_HEARTBEAT_TIMEOUT_MS = 5_000;

export class NotificationListener {
  private readonly logger: Logger;
  private readonly timers: Timers;
  /** What each connection is made with (database.ts databaseClient). */
  private readonly Client: typeof pg.Client;
  private client: pg.Client | undefined;
  private isConnected = false;
  private everConnected = false;
  private failures = 0;
  private retryTimer: unknown;
  private heartbeatTimer: unknown;
  /** The deadline of the heartbeat in flight. */
  private heartbeatDeadline: unknown;
  private closed = false;
  private connecting: Promise<void> | undefined;

  constructor(private readonly options: NotificationListenerOptions) {
    this.logger = options.logger.child({ component: "notification_listener", channel: options.channel });
    this.timers = options.timers ?? systemTimers;
    this.Client = databaseClient(options.password);
  }

  /** True while the LISTEN is in place. */
  get connected(): boolean {
    return this.isConnected;
  }

  /** Makes the first connection attempt; on failure keeps retrying in the background. */
  start(): Promise<void> {
    this.connecting ??= this.connect();
    return this.connecting;
  }

  /** Stops reconnecting and closes the connection. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.timers.clearTimeout(this.retryTimer);
    this.timers.clearTimeout(this.heartbeatTimer);
    this.timers.clearTimeout(this.heartbeatDeadline);
    // Ending the client also aborts a connection attempt in progress.
    const client = this.client;
    this.client = undefined;
    this.isConnected = false;
    await client?.end().catch(() => undefined);
  }

  /** Drops the current connection as if it had failed (tests: proves the reconnect path). */
  dropConnection(): void {
    const client = this.client;
    if (client !== undefined) this.lost(client, new Error("connection dropped on purpose"));
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let client: pg.Client;
    try {
      // keepAlive: notice a silently dead connection (no FIN/RST) instead of waiting forever.
      client = new this.Client({
        connectionString: this.options.url,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        connectionTimeoutMillis: DATABASE_CONNECT_TIMEOUT_MS,
      });
    } catch (err) {
      // pg reads the URL's TLS files (sslrootcert, sslcert, sslkey) here: one that cannot be read
      // now (a renewal under way) is a failed attempt like any other, retried.
      this.retryLater(err, false);
      return;
    }
    client.on("notification", (msg) => {
      if (msg.channel === this.options.channel && this.client === client) this.options.onNotification(msg.payload ?? "");
    });
    client.on("error", (err) => this.lost(client, err));
    client.on("end", () => this.lost(client, new Error("connection ended")));
    this.client = client;
    try {
      await client.connect();
      await this.options.prepareSession?.(client);
      await client.query(`LISTEN ${client.escapeIdentifier(this.options.channel)}`);
    } catch (err) {
      this.lost(client, err);
      return;
    }
    if (this.closed || this.client !== client) {
      await client.end().catch(() => undefined);
      return;
    }
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.isConnected = true;
    this.failures = 0;
    if (reconnected) this.logger.info("listening again");
    this.options.onConnected?.(reconnected);
    this.scheduleHeartbeat(client);
  }

  private scheduleHeartbeat(client: pg.Client): void {
    const intervalMs = this.options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    const timeoutMs = this.options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    this.timers.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = this.timers.setTimeout(() => {
      if (this.client !== client) return;
      this.heartbeatDeadline = this.timers.setTimeout(() => this.lost(client, new Error(`no answer to a heartbeat within ${timeoutMs} ms`)), timeoutMs);
      client.query("SELECT 1").then(
        () => {
          this.timers.clearTimeout(this.heartbeatDeadline);
          if (this.client === client) this.scheduleHeartbeat(client);
        },
        (err: unknown) => {
          this.timers.clearTimeout(this.heartbeatDeadline);
          this.lost(client, err);
        },
      );
    }, intervalMs);
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return; // an old connection reporting late
    this.client = undefined;
    this.timers.clearTimeout(this.heartbeatTimer);
    this.timers.clearTimeout(this.heartbeatDeadline);
    const wasConnected = this.isConnected;
    this.isConnected = false;
    client.end().catch(() => undefined);
    this.retryLater(err, wasConnected);
  }

  /** Counts a failure, logs it and schedules the next attempt. */
  private retryLater(err: unknown, wasConnected: boolean): void {
    if (this.closed) return;
    this.failures += 1;
    const base = backoffDelay(this.failures, this.options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS, this.options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
    const delayMs = Math.round(base * (0.8 + 0.4 * Math.random()));
    // SECURITY: the error's message, never the connection string.
    this.logger.warn({ err: (err as Error)?.message ?? String(err), failures: this.failures, retry_in_ms: delayMs }, wasConnected ? "listen connection lost" : "listen connection failed");
    if (wasConnected) this.options.onDisconnected?.(err);
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = undefined;
      this.connecting = this.connect();
    }, delayMs);
  }
}
