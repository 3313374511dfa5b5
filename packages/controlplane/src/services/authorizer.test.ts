// Authorizer.IsAuthorized: every reference case (TestAuthorization and the delegated table),
// each asserting the Connect code AND the IsAuthorizedFailure reason; who may delegate
// (in-process yes, network only with allow_delegation); an unreachable database is Unavailable.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Authorizer, IsAuthorizedFailureSchema } from "@weir/proto";
import pino from "pino";
import { SYSTEM_USER_ID, createControlPlane, createInProcessTransport, registerServices, type ControlPlane } from "../index.js";
import { generateApiKey } from "../keys/api-key.js";
import { sha256 } from "../keys/secret-hash.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { captureLogger } from "../testing/capture-logger.js";
import { DATABASE_UNAVAILABLE_MESSAGE } from "../rpc/connect-errors.js";
import { FakeClock, unreachableDatabase, createTestH2Transport, gatewayHeaders, insertApiKey, insertGatewayKey, insertOrphanApiKey, insertUser, type TestH2Transport } from "../testing/rpc-fixtures.js";

const logger = pino({ level: "silent" });
const clock = new FakeClock();
const HOUR = 3_600_000;

let t: TestDatabase;
let inProcess: Client<typeof Authorizer>;
before(async () => {
  t = await createTestDatabase();
  inProcess = createClient(Authorizer, createInProcessTransport({ db: t.db, logger, clock }));
});
after(async () => {
  await t?.drop();
});

type Want = { ok: true } | { code: Code; reason: string };

/** Calls IsAuthorized and reduces the outcome to what the case asserts. */
async function outcome(call: () => Promise<{ ownerId: string; apiKeyId: string; username: string }>): Promise<{ ok: true; ownerId: string; apiKeyId: string; username: string } | { code: Code; reason: string | undefined; message: string }> {
  try {
    const { ownerId, apiKeyId, username } = await call();
    return { ok: true, ownerId, apiKeyId, username };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, reason: e.findDetails(IsAuthorizedFailureSchema)[0]?.reason, message: e.rawMessage };
  }
}

function assertOutcome(got: Awaited<ReturnType<typeof outcome>>, want: Want, owner?: { id: string; username: string; keyId: string }): void {
  if ("ok" in want) {
    assert.ok("ok" in got, `want success, got ${JSON.stringify(got)}`);
    if (owner) assert.deepEqual({ ownerId: got.ownerId, apiKeyId: got.apiKeyId, username: got.username }, { ownerId: owner.id, apiKeyId: owner.keyId, username: owner.username });
    return;
  }
  assert.ok(!("ok" in got), `want ${Code[want.code]}/${want.reason}, got success`);
  assert.deepEqual({ code: Code[got.code], reason: got.reason }, { code: Code[want.code], reason: want.reason });
}

interface Fixture {
  key: string;
  keyId: string;
  owner?: { id: string; username: string; keyId: string };
}

async function validKey(over: { expiresAt?: Date | null; hashedSecret?: Buffer } = {}, user: Parameters<typeof insertUser>[1] = {}): Promise<Fixture> {
  const u = await insertUser(t.db, user);
  const k = await insertApiKey(t.db, u.id, over);
  return { key: k.key, keyId: k.id, owner: { id: u.id, username: u.username, keyId: k.id } };
}

describe("IsAuthorized with a full key (reference TestAuthorization)", () => {
  const cases: { name: string; setup: () => Promise<Fixture>; want: Want }[] = [
    { name: "invalid key format", setup: async () => ({ key: "foo", keyId: "" }), want: { code: Code.Unauthenticated, reason: "invalid_key" } },
    { name: "no key at all", setup: async () => ({ key: "", keyId: "" }), want: { code: Code.Unauthenticated, reason: "invalid_key" } },
    { name: "unknown key", setup: async () => ({ key: generateApiKey().key, keyId: "" }), want: { code: Code.Unauthenticated, reason: "unknown_key" } },
    { name: "expired", setup: () => validKey({ expiresAt: new Date(clock.now().getTime() - HOUR) }), want: { code: Code.Unauthenticated, reason: "expired" } },
    {
      name: "invalid key secret",
      setup: async () => {
        const f = await validKey();
        return { ...f, key: `${f.keyId}-${generateApiKey().secret}` };
      },
      want: { code: Code.Unauthenticated, reason: "invalid_key" },
    },
    { name: "unknown user", setup: async () => ({ ...(await insertOrphanApiKey(t.db)), keyId: "" }), want: { code: Code.PermissionDenied, reason: "unknown_user" } },
    { name: "deleted user", setup: () => validKey({}, { deleted: true }), want: { code: Code.PermissionDenied, reason: "deleted_user" } },
    { name: "suspended user", setup: () => validKey({}, { status: "suspended" }), want: { code: Code.PermissionDenied, reason: "inactive_user" } },
    {
      name: "system user",
      setup: async () => {
        const k = await insertApiKey(t.db, SYSTEM_USER_ID);
        return { key: k.key, keyId: k.id };
      },
      want: { code: Code.PermissionDenied, reason: "system_user" },
    },
    { name: "valid", setup: () => validKey(), want: { ok: true } },
    { name: "valid, expiring later", setup: () => validKey({ expiresAt: new Date(clock.now().getTime() + HOUR) }), want: { ok: true } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const f = await c.setup();
      assertOutcome(await outcome(() => inProcess.isAuthorized({ key: f.key })), c.want, f.owner);
    });
  }

  // Pins (1.1) that the answer carries the key's expiry, so a gateway never caches it beyond.
  it("answers key_expires_at for an expiring key, nothing for a key that never expires", async () => {
    const expiresAt = new Date(clock.now().getTime() + HOUR);
    const expiring = await validKey({ expiresAt });
    const got = await inProcess.isAuthorized({ key: expiring.key });
    assert.equal(got.keyExpiresAt && timestampMs(got.keyExpiresAt), expiresAt.getTime());
    const forever = await validKey();
    assert.equal((await inProcess.isAuthorized({ key: forever.key })).keyExpiresAt, undefined);
  });
});

describe("IsAuthorized delegated by key_id (reference delegated table), in-process", () => {
  const cases: { name: string; setup: () => Promise<Fixture>; request: (f: Fixture) => { key?: string; keyId?: string }; want: Want }[] = [
    { name: "valid key_id", setup: () => validKey(), request: (f) => ({ keyId: f.keyId }), want: { ok: true } },
    { name: "unknown key", setup: async () => ({ key: "", keyId: generateApiKey().id }), request: (f) => ({ keyId: f.keyId }), want: { code: Code.Unauthenticated, reason: "unknown_key" } },
    { name: "malformed key_id", setup: async () => ({ key: "", keyId: "short" }), request: (f) => ({ keyId: f.keyId }), want: { code: Code.Unauthenticated, reason: "invalid_key" } },
    {
      name: "expired key",
      setup: () => validKey({ expiresAt: new Date(clock.now().getTime() - 1) }),
      request: (f) => ({ keyId: f.keyId }),
      want: { code: Code.Unauthenticated, reason: "expired" },
    },
    { name: "both fields set", setup: () => validKey(), request: (f) => ({ key: f.key, keyId: f.keyId }), want: { code: Code.InvalidArgument, reason: "ambiguous" } },
    {
      name: "secret hash mismatch is ignored",
      setup: () => validKey({ hashedSecret: sha256("matches no secret") }),
      request: (f) => ({ keyId: f.keyId }),
      want: { ok: true },
    },
    { name: "deleted user", setup: () => validKey({}, { deleted: true }), request: (f) => ({ keyId: f.keyId }), want: { code: Code.PermissionDenied, reason: "deleted_user" } },
    { name: "suspended user", setup: () => validKey({}, { status: "suspended" }), request: (f) => ({ keyId: f.keyId }), want: { code: Code.PermissionDenied, reason: "inactive_user" } },
    { name: "unknown user", setup: async () => ({ key: "", keyId: (await insertOrphanApiKey(t.db)).id }), request: (f) => ({ keyId: f.keyId }), want: { code: Code.PermissionDenied, reason: "unknown_user" } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const f = await c.setup();
      assertOutcome(await outcome(() => inProcess.isAuthorized(c.request(f))), c.want, f.owner);
    });
  }

  // Property: the ambiguity message is the reference's.
  it("names the ambiguity in the message", async () => {
    const f = await validKey();
    const got = await outcome(() => inProcess.isAuthorized({ key: f.key, keyId: f.keyId }));
    assert.ok(!("ok" in got));
    assert.equal(got.message, "both key and key_id set; exactly one required");
  });
});

describe("IsAuthorized delegation over the network", () => {
  let cp: ControlPlane;
  let h2: TestH2Transport;
  let client: Client<typeof Authorizer>;
  before(async () => {
    cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger });
    await cp.start();
    h2 = createTestH2Transport(cp.url);
    client = h2.client(Authorizer);
  });
  after(async () => {
    h2?.close();
    await cp?.shutdown();
  });

  const cases: { name: string; allowDelegation: boolean; delegated: boolean; want: Want }[] = [
    { name: "key_id from a gateway key without allow_delegation is refused", allowDelegation: false, delegated: true, want: { code: Code.PermissionDenied, reason: "delegation_not_allowed" } },
    { name: "key_id from a gateway key with allow_delegation is honoured", allowDelegation: true, delegated: true, want: { ok: true } },
    { name: "a full key needs no delegation right", allowDelegation: false, delegated: false, want: { ok: true } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const gw = await insertGatewayKey(t.db, { allowDelegation: c.allowDelegation });
      const f = await validKey();
      const request = c.delegated ? { keyId: f.keyId } : { key: f.key };
      assertOutcome(await outcome(() => client.isAuthorized(request, { headers: gatewayHeaders(gw.key) })), c.want, f.owner);
    });
  }

  // Property: delegation is checked before the key is looked up (no oracle for key ids).
  it("refuses delegation even for an unknown key id", async () => {
    const gw = await insertGatewayKey(t.db);
    const got = await outcome(() => client.isAuthorized({ keyId: generateApiKey().id }, { headers: gatewayHeaders(gw.key) }));
    assertOutcome(got, { code: Code.PermissionDenied, reason: "delegation_not_allowed" });
  });
});

describe("IsAuthorized outside both transports", () => {
  // Property: registerServices alone grants nothing; only the in-process transport marks calls.
  it("refuses key_id on a bare router transport", async () => {
    const client = createClient(Authorizer, createRouterTransport((router) => registerServices(router, { db: t.db, logger, clock })));
    const f = await validKey();
    assertOutcome(await outcome(() => client.isAuthorized({ keyId: f.keyId })), { code: Code.PermissionDenied, reason: "delegation_not_allowed" });
  });

  // Property: an unreachable database is Unavailable (the gateway answers 503), with no refusal reason.
  it("maps an unreachable database to Unavailable", async () => {
    const broken = unreachableDatabase();
    after(() => broken.destroy());
    const client = createClient(Authorizer, createInProcessTransport({ db: broken, logger, clock }));
    const f = await validKey();
    const got = await outcome(() => client.isAuthorized({ key: f.key }));
    assert.ok(!("ok" in got));
    assert.deepEqual({ code: Code[got.code], reason: got.reason, message: got.message }, { code: "Unavailable", reason: undefined, message: DATABASE_UNAVAILABLE_MESSAGE });
  });
});

// An operator reading "api key refused" needs to know which key a client still presents; the
// line names a well-formed key's public id and never the key, a secret or a malformed token.
describe("IsAuthorized refusals are logged with the key id, never the key", () => {
  const logged = async (request: { key?: string; keyId?: string }): Promise<{ line: Record<string, unknown>; text: string }> => {
    const captured = captureLogger("info");
    const client = createClient(Authorizer, createInProcessTransport({ db: t.db, logger: captured.logger, clock }));
    await assert.rejects(client.isAuthorized(request));
    const lines = captured.lines().filter((l) => l.msg === "api key refused");
    assert.equal(lines.length, 1);
    return { line: lines[0]!, text: JSON.stringify(captured.lines()) };
  };

  it("an expired key: its id", async () => {
    const f = await validKey({ expiresAt: new Date(clock.now().getTime() - HOUR) });
    const { line, text } = await logged({ key: f.key });
    assert.equal(line.api_key_id, f.keyId);
    assert.equal(line.reason, "expired");
    assert.ok(!text.includes(f.key.slice(11)), "the secret must not be logged");
  });

  it("a known id with a wrong secret: the id, not the secret tried", async () => {
    const f = await validKey();
    const guess = generateApiKey().secret;
    const { line, text } = await logged({ key: `${f.keyId}-${guess}` });
    assert.deepEqual([line.api_key_id, line.reason], [f.keyId, "invalid_key"]);
    assert.ok(!text.includes(guess));
  });

  it("an unknown key: its id", async () => {
    const k = generateApiKey();
    const { line, text } = await logged({ key: k.key });
    assert.deepEqual([line.api_key_id, line.reason], [k.id, "unknown_key"]);
    assert.ok(!text.includes(k.secret));
  });

  it("a malformed key (say, a provider's secret pasted by mistake): no id, nothing of it", async () => {
    const pasted = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
    const { line, text } = await logged({ key: pasted });
    assert.equal(line.reason, "invalid_key");
    assert.equal("api_key_id" in line, false);
    assert.ok(!text.includes("AbCdEfGhIj"));
  });

  it("a delegated key id: logged when well-formed, not when malformed", async () => {
    const unknown = generateApiKey().id;
    assert.equal((await logged({ keyId: unknown })).line.api_key_id, unknown);
    const malformed = await logged({ keyId: "short!" });
    assert.equal("api_key_id" in malformed.line, false);
    assert.ok(!malformed.text.includes("short!"));
  });
});
