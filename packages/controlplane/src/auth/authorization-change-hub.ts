// Fans authorization changes out to gateways (API 1.1, Authorizer.WatchAuthorizationChanges).
// Every control-plane replica holds ONE LISTEN connection (NotificationListener) on the channel
// the database triggers notify (migration 2026_12_01_000000_authorization_notify), so a change
// made through any replica reaches the gateways of every replica.
//
// Rules that keep a gateway's cache no staler than push latency:
// - every subscription starts with a reset (the gateway clears its cache);
// - subscriptions are accepted only while the LISTEN is in place;
// - when the LISTEN connection is lost, subscribers are kept for a short grace period; if it
//   comes back within it they get a reset (changes may have been missed meanwhile), otherwise
//   their streams end with Unavailable and the gateways stop caching until they can subscribe
//   again;
// - a deleted gateway key ends the streams opened with it (Unauthenticated); after a reconnect
//   the subscribers' gateway keys are checked again, since such a deletion may have been missed;
// - a subscriber that does not keep up gets its undelivered changes collapsed into one reset
//   (invalidations are idempotent and a reset covers them all), so memory stays bounded.
import type { Kysely } from "kysely";
import type pg from "pg";
import type { Logger } from "pino";
import { AUTHORIZATION_CHANGES_CHANNEL } from "../db/migrations/2026_12_01_000000_authorization_notify.js";
import { NotificationListener } from "../db/notification-listener.js";
import type { PasswordSource } from "../db/password-file.js";
import type { Database } from "../db/schema.js";
import { AuthorizationChangesUnavailableError, GatewayKeyRefusedError } from "../errors.js";
import { systemTimers, type Timers } from "../timers.js";

/** One message for a gateway: what its cache must forget. Ids only, never secrets. */
export type AuthorizationChange =
  | { readonly kind: "reset" }
  | { readonly kind: "api_key"; readonly apiKeyId: string }
  | { readonly kind: "user"; readonly userId: string }
  | { readonly kind: "gateway_key"; readonly gatewayKeyId: string };

/** A subscriber's stream of changes; ends with an error when the subscriber must stop caching. */
export interface AuthorizationChangeSubscription extends AsyncIterable<AuthorizationChange> {
  /** Unsubscribes; a pending read ends. Idempotent. */
  close(): void;
}

export interface AuthorizationChangeHubOptions {
  /** postgres:// URL for the LISTEN connection. SECURITY: never logged. */
  readonly url: string;
  /** Asked at every login instead of the URL's password (password-file.ts). */
  readonly password?: PasswordSource | undefined;
  /** For re-checking subscribers' gateway keys after a reconnect. */
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  /** Runs on every new session of the LISTEN connection, before its LISTEN (NotificationListenerOptions.prepareSession). */
  readonly prepareListenSession?: (client: pg.Client) => Promise<void>;
  /** How long subscribers survive a lost LISTEN connection; default 500 ms. */
  readonly listenGraceMs?: number;
  /** Undelivered changes per subscriber before they collapse into one reset; default 1,000. */
  readonly maxPendingPerSubscriber?: number;
  /** First LISTEN reconnect delay (doubling up to 5 s); default 100 ms. */
  readonly reconnectBackoffMs?: number;
  readonly timers?: Timers;
}

export const DEFAULT_LISTEN_GRACE_MS = 500;
const DEFAULT_MAX_PENDING = 1_000;

/** A notification payload as the triggers write it. */
interface ChangePayload {
  readonly kind: "api_key" | "user" | "gateway_key";
  readonly op: "update" | "delete";
  readonly id: string;
}

function parsePayload(text: string): ChangePayload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const p = value as Partial<Record<keyof ChangePayload, unknown>> | null;
  if (p === null || typeof p !== "object" || typeof p.id !== "string" || p.id === "") return undefined;
  if (p.kind !== "api_key" && p.kind !== "user" && p.kind !== "gateway_key") return undefined;
  if (p.op !== "update" && p.op !== "delete") return undefined;
  return { kind: p.kind, op: p.op, id: p.id };
}

class Subscriber implements AuthorizationChangeSubscription {
  private pending: AuthorizationChange[] = [{ kind: "reset" }];
  private ended: { readonly error: unknown } | undefined;
  private wake: (() => void) | undefined;

  constructor(
    readonly gatewayKeyId: string | undefined,
    private readonly maxPending: number,
    private readonly onClose: (s: Subscriber) => void,
  ) {}

  push(change: AuthorizationChange): void {
    if (this.ended !== undefined) return;
    if (change.kind === "reset" || this.pending.length >= this.maxPending) this.pending = [{ kind: "reset" }];
    else this.pending.push(change);
    this.notify();
  }

  /** Ends the stream after what is pending; with an error, reading it throws. */
  end(error?: unknown): void {
    if (this.ended !== undefined) return;
    this.ended = { error };
    this.onClose(this);
    this.notify();
  }

  close(): void {
    this.pending = [];
    this.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<AuthorizationChange> {
    try {
      for (;;) {
        const next = this.pending.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.ended !== undefined) {
          if (this.ended.error !== undefined) throw this.ended.error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      this.close();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

export class AuthorizationChangeHub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly listener: NotificationListener;
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly graceMs: number;
  private readonly maxPending: number;
  private graceTimer: unknown;
  private closed = false;

  constructor(private readonly options: AuthorizationChangeHubOptions) {
    this.logger = options.logger.child({ component: "authorization_changes" });
    this.timers = options.timers ?? systemTimers;
    this.graceMs = options.listenGraceMs ?? DEFAULT_LISTEN_GRACE_MS;
    this.maxPending = Math.max(1, options.maxPendingPerSubscriber ?? DEFAULT_MAX_PENDING);
    this.listener = new NotificationListener({
      url: options.url,
      password: options.password,
      channel: AUTHORIZATION_CHANGES_CHANNEL,
      logger: options.logger,
      timers: this.timers,
      ...(options.reconnectBackoffMs !== undefined ? { initialBackoffMs: options.reconnectBackoffMs } : {}),
      ...(options.prepareListenSession !== undefined ? { prepareSession: options.prepareListenSession } : {}),
      onNotification: (payload) => this.onNotification(payload),
      onConnected: (reconnected) => this.onConnected(reconnected),
      onDisconnected: () => this.onDisconnected(),
    });
  }

  /** Whether subscriptions are accepted now (the LISTEN is in place). */
  get listening(): boolean {
    return !this.closed && this.listener.connected;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Connects the LISTEN (first attempt awaited; on failure it retries in the background). */
  start(): Promise<void> {
    return this.listener.start();
  }

  /**
   * A new subscription whose first change is a reset. `gatewayKeyId` is the key the caller
   * authenticated with (undefined in-process): its deletion ends the stream.
   * Throws AuthorizationChangesUnavailableError while changes cannot be heard.
   */
  subscribe(gatewayKeyId: string | undefined): AuthorizationChangeSubscription {
    if (!this.listening) throw new AuthorizationChangesUnavailableError();
    const subscriber = new Subscriber(gatewayKeyId, this.maxPending, (s) => this.subscribers.delete(s));
    this.subscribers.add(subscriber);
    return subscriber;
  }

  /**
   * Ends every stream (Unavailable) and refuses new ones, but keeps the LISTEN connection (and
   * what its session holds) until close(). Idempotent.
   */
  endSubscriptions(): void {
    if (this.closed) return;
    this.closed = true;
    this.timers.clearTimeout(this.graceTimer);
    this.endAll(new AuthorizationChangesUnavailableError("control plane shutting down"));
  }

  /** Ends every stream (Unavailable) and closes the LISTEN connection. Idempotent. */
  async close(): Promise<void> {
    this.endSubscriptions();
    await this.listener.close();
  }

  /** Drops the LISTEN connection (tests: proves the reconnect and grace paths). */
  dropListenConnection(): void {
    this.listener.dropConnection();
  }

  private onNotification(text: string): void {
    const payload = parsePayload(text);
    if (payload === undefined) {
      // Something we do not understand changed: forgetting everything is always safe.
      this.logger.warn({ payload_length: text.length }, "unrecognised authorization change; resetting subscribers");
      this.broadcast({ kind: "reset" });
      return;
    }
    if (this.logger.isLevelEnabled("debug")) this.logger.debug({ kind: payload.kind, op: payload.op, id: payload.id, subscribers: this.subscribers.size }, "authorization change");
    switch (payload.kind) {
      case "api_key":
        this.broadcast({ kind: "api_key", apiKeyId: payload.id });
        return;
      case "user":
        this.broadcast({ kind: "user", userId: payload.id });
        return;
      case "gateway_key":
        for (const s of [...this.subscribers]) {
          if (s.gatewayKeyId !== payload.id) continue;
          if (payload.op === "delete") s.end(new GatewayKeyRefusedError("invalid"));
          else s.push({ kind: "gateway_key", gatewayKeyId: payload.id });
        }
        if (payload.op === "delete") this.logger.info({ gateway_key_id: payload.id }, "gateway key deleted; ended its watch streams");
        return;
    }
  }

  private onConnected(reconnected: boolean): void {
    this.timers.clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    if (!reconnected || this.subscribers.size === 0) return;
    // Notifications sent while we were away are lost: everyone forgets everything.
    this.logger.info({ subscribers: this.subscribers.size }, "listen connection back; resetting subscribers");
    this.broadcast({ kind: "reset" });
    this.recheckGatewayKeys().catch((err: unknown) => {
      this.logger.error({ err }, "re-check of subscribers' gateway keys failed; ending their streams");
      this.endAll(new AuthorizationChangesUnavailableError());
    });
  }

  private onDisconnected(): void {
    if (this.closed || this.graceTimer !== undefined) return;
    this.graceTimer = this.timers.setTimeout(() => {
      this.graceTimer = undefined;
      if (this.listener.connected || this.subscribers.size === 0) return;
      this.logger.warn({ subscribers: this.subscribers.size, grace_ms: this.graceMs }, "listen connection still down; ending watch streams");
      this.endAll(new AuthorizationChangesUnavailableError());
    }, this.graceMs);
  }

  /** Ends the streams of subscribers whose gateway key no longer exists. */
  private async recheckGatewayKeys(): Promise<void> {
    const ids = [...new Set([...this.subscribers].map((s) => s.gatewayKeyId).filter((id): id is string => id !== undefined))];
    if (ids.length === 0) return;
    const rows = await this.options.db.selectFrom("ai_gateway_keys").select("id").where("id", "in", ids).execute();
    const alive = new Set(rows.map((r) => r.id));
    for (const s of [...this.subscribers]) {
      if (s.gatewayKeyId !== undefined && !alive.has(s.gatewayKeyId)) s.end(new GatewayKeyRefusedError("invalid"));
    }
  }

  private broadcast(change: AuthorizationChange): void {
    for (const s of this.subscribers) s.push(change);
  }

  private endAll(error: unknown): void {
    for (const s of [...this.subscribers]) s.end(error);
  }
}
