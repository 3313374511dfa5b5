// Rows the RPC tests need (users, API keys, gateway keys, MCP configs) and h2c clients that
// close their sessions. Test support only; not exported from the package.
import { randomBytes, randomUUID } from "node:crypto";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { Http2SessionManager, createConnectTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { API_VERSION, API_VERSION_HEADER, GATEWAY_KEY_HEADER } from "@weir/proto";
import { sql, type Kysely } from "kysely";
import { createKysely } from "../db/database.js";
import type { Clock } from "../clock.js";
import type { Database, UserRole, UserStatus } from "../db/schema.js";
import { generateApiKey } from "../keys/api-key.js";
import { generateGatewayKey } from "../keys/gateway-key.js";

let counter = 0;
const unique = (base: string) => `${base}${++counter}${randomBytes(3).toString("hex")}`;

export interface UserFixture {
  readonly username?: string;
  readonly role?: UserRole;
  readonly status?: UserStatus;
  readonly deleted?: boolean;
  readonly isSystem?: boolean;
}

export async function insertUser(db: Kysely<Database>, over: UserFixture = {}): Promise<{ id: string; username: string }> {
  const username = over.username ?? unique("user");
  const row = await db
    .insertInto("users")
    .values({ username, role: over.role ?? "member", status: over.status ?? "active", deleted: over.deleted ?? false, is_system: over.isSystem ?? false })
    .returning(["id", "username"])
    .executeTakeFirstOrThrow();
  return row;
}

/** Inserts an API key for `userId`; returns its id and the full key. */
export async function insertApiKey(db: Kysely<Database>, userId: string, over: { expiresAt?: Date | null; hashedSecret?: Buffer } = {}): Promise<{ id: string; key: string }> {
  const k = generateApiKey();
  await db
    .insertInto("api_keys")
    .values({ id: k.id, hashed_secret: over.hashedSecret ?? k.hashedSecret, user_id: userId, expires_at: over.expiresAt ?? null })
    .execute();
  return { id: k.id, key: k.key };
}

/**
 * Inserts an API key whose user does not exist. The foreign key would refuse it, so the insert
 * runs on one connection with triggers (and thus FK checks) disabled for that session.
 */
export async function insertOrphanApiKey(db: Kysely<Database>): Promise<{ id: string; key: string }> {
  return db.connection().execute(async (conn) => {
    await sql`SET session_replication_role = replica`.execute(conn);
    try {
      return await insertApiKey(conn, randomUUID());
    } finally {
      await sql`RESET session_replication_role`.execute(conn);
    }
  });
}

export interface GatewayKeyFixture {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  /** SECURITY: test key only. */
  readonly key: string;
}

export async function insertGatewayKey(db: Kysely<Database>, over: { allowDelegation?: boolean } = {}): Promise<GatewayKeyFixture> {
  const k = generateGatewayKey();
  const name = unique("gw-");
  const row = await db
    .insertInto("ai_gateway_keys")
    .values({ name, secret_prefix: k.prefix, hashed_secret: k.hashedSecret, allow_delegation: over.allowDelegation ?? false })
    .returning("id")
    .executeTakeFirstOrThrow();
  return { id: row.id, name, prefix: k.prefix, key: k.key };
}

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  constructor(private ms: number = Date.parse("2026-11-22T12:00:00Z")) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** An h2c (or h2 over TLS) Connect transport whose session the test closes explicitly. */
export interface TestH2Transport {
  readonly transport: Transport;
  client<S extends DescService>(service: S): Client<S>;
  close(): void;
}

export function createTestH2Transport(baseUrl: string, nodeOptions?: { ca?: string | Buffer }): TestH2Transport {
  const sessionManager = new Http2SessionManager(baseUrl, undefined, nodeOptions);
  const transport = createConnectTransport({ httpVersion: "2", baseUrl, sessionManager });
  return {
    transport,
    client: (service) => createClient(service, transport),
    close: () => sessionManager.abort(),
  };
}

/** Headers of a well-behaved gateway; null leaves a header out. SECURITY: test keys only. */
export function gatewayHeaders(key: string | null, version: string | null = API_VERSION): Record<string, string> {
  const headers: Record<string, string> = {};
  if (key !== null) headers[GATEWAY_KEY_HEADER] = key;
  if (version !== null) headers[API_VERSION_HEADER] = version;
  return headers;
}

/** A database handle whose every query fails (nothing listens on port 1): for Internal paths. */
export function unreachableDatabase(): Kysely<Database> {
  return createKysely("postgres://weir@127.0.0.1:1/unreachable", 1);
}
