// The database URL's TLS settings (database-tls.ts). The real server's answers are in
// test/e2e/database-tls.test.ts; here the rewriting of sslmode, and the advice for the refusals
// that e2e test cannot make a real PostgreSQL give.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { databaseTlsProblem, explicitSslMode, isDatabaseTlsError, tlsFileUnreadable, withDatabaseTlsAdvice } from "./database-tls.js";
import { isConnectionRefusedByConfiguration, isDatabaseUnavailableError } from "./postgres-error.js";

describe("explicitSslMode", () => {
  const base = "postgres://weir:p%40ss!*@db.internal:5432/weir";
  for (const mode of ["prefer", "require", "verify-ca"]) {
    it(`writes sslmode=${mode} as verify-full, leaving every other byte as it was`, () => {
      assert.deepEqual(explicitSslMode(`${base}?application_name=x&sslmode=${mode}&sslrootcert=/etc/ca.pem`), {
        url: `${base}?application_name=x&sslmode=verify-full&sslrootcert=/etc/ca.pem`,
        aliased: mode,
      });
      assert.deepEqual(explicitSslMode(`${base}?sslmode=${mode}`), { url: `${base}?sslmode=verify-full`, aliased: mode });
    });
  }
  for (const query of ["", "?sslmode=verify-full", "?sslmode=disable", "?sslmode=no-verify", "?sslmode=required", "?xsslmode=require", "?sslmode=require&uselibpqcompat=true"]) {
    it(`leaves ${query || "a URL without parameters"} alone`, () => {
      assert.deepEqual(explicitSslMode(`${base}${query}`), { url: `${base}${query}` });
    });
  }
  // Only the query counts, as node-postgres parses it: not a password or database name that
  // happens to hold the text, not a fragment, not pg's socket: form (which ignores sslmode).
  for (const url of [
    "postgres://weir:x&sslmode=require&y@db.internal/weir",
    "postgres://weir@db.internal/w&sslmode=require",
    "postgres://weir@db.internal/weir#x&sslmode=require",
    "socket:/var/run/postgresql?db=weir&sslmode=require",
    "postgres://weir@db.internal/weir?sslmode=require&sslmode=verify-full",
  ]) {
    it(`leaves ${url} alone`, () => {
      assert.deepEqual(explicitSslMode(url), { url });
    });
  }
  it("rewrites the sslmode node-postgres reads, the last, and keeps the fragment", () => {
    assert.deepEqual(explicitSslMode("postgres://weir@db/weir?sslmode=disable&a=1&sslmode=require#frag"), {
      url: "postgres://weir@db/weir?sslmode=disable&a=1&sslmode=verify-full#frag",
      aliased: "require",
    });
  });
});

describe("databaseTlsProblem", () => {
  const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

  it("names sslrootcert for a certificate from an issuer Node does not trust, also as a cause", () => {
    const err = new Error("query failed", { cause: coded("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT") });
    assert.equal(databaseTlsProblem(err), "cannot verify the database server's certificate (DEPTH_ZERO_SELF_SIGNED_CERT): give the CA that issued it with sslrootcert=<file> in the database URL");
  });
  it("says a certificate for another host is one, and an expired one out of date", () => {
    assert.equal(
      databaseTlsProblem(coded("Hostname/IP does not match certificate's altnames", "ERR_TLS_CERT_ALTNAME_INVALID")),
      "the database server's certificate does not name the host of the database URL (ERR_TLS_CERT_ALTNAME_INVALID): connect by a name it was issued for",
    );
    assert.equal(databaseTlsProblem(coded("certificate has expired", "CERT_HAS_EXPIRED")), "the database server's certificate is out of date (CERT_HAS_EXPIRED): renew it");
  });
  it("has nothing to say of other refusals and of an unreachable server", () => {
    assert.equal(databaseTlsProblem(coded('password authentication failed for user "weir"', "28P01")), undefined);
    assert.equal(databaseTlsProblem(coded('no pg_hba.conf entry for host "10.0.0.1", user "weir", database "weir", SSL encryption', "28000")), undefined);
    assert.equal(databaseTlsProblem(coded("ENOENT: no such file or directory, open 'x'", "ENOENT")), undefined, "a file error only as tlsFileUnreadable says it");
    assert.equal(databaseTlsProblem(coded("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")), undefined);
    assert.equal(databaseTlsProblem("not an error"), undefined);
  });
  it("names sslcert and sslkey for the server's alerts about the client certificate, and a key of another certificate", () => {
    assert.equal(
      databaseTlsProblem(coded("tlsv1 alert unknown ca", "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA")),
      "the database server refused the client certificate (ERR_SSL_TLSV1_ALERT_UNKNOWN_CA): check sslcert and sslkey in the database URL (issued by a CA the server trusts, not expired)",
    );
    assert.equal(
      databaseTlsProblem(coded("sslv3 alert certificate expired", "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED")),
      "the database server refused the client certificate (ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED): check sslcert and sslkey in the database URL (issued by a CA the server trusts, not expired)",
    );
    assert.equal(
      databaseTlsProblem(coded("key values mismatch", "ERR_OSSL_X509_KEY_VALUES_MISMATCH")),
      "the database URL's sslkey is not the private key of its sslcert (ERR_OSSL_X509_KEY_VALUES_MISMATCH)",
    );
    assert.equal(databaseTlsProblem(coded("no start line", "ERR_OSSL_PEM_NO_START_LINE")), "the TLS files of the database URL cannot be used (ERR_OSSL_PEM_NO_START_LINE): check sslcert, sslkey and sslrootcert");
  });
  it("says a TLS file node-postgres could not open as it connected is one, as an outage", () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/etc/weir/ca.pem'"), { code: "ENOENT", syscall: "open", path: "/etc/weir/ca.pem" });
    const err = tlsFileUnreadable(enoent);
    assert.ok(isDatabaseTlsError(err));
    assert.equal(err.message, "a TLS file of the database URL cannot be read: /etc/weir/ca.pem: no such file");
    assert.equal(isDatabaseUnavailableError(new Error("query failed", { cause: err })), true);
    assert.equal(tlsFileUnreadable(new Error("boom")), undefined);
  });
  it("makes every such refusal an outage at run time and a mistake at start-up", () => {
    const err = coded("self-signed certificate in certificate chain", "SELF_SIGNED_CERT_IN_CHAIN");
    assert.equal(isDatabaseUnavailableError(err), true);
    assert.equal(isConnectionRefusedByConfiguration(err), true);
  });
  it("wraps an error once, whole: the advice, then OpenSSL's short reason or the error's words; the error as its cause", () => {
    const err = coded("certificate has expired", "CERT_HAS_EXPIRED");
    const wrapped = withDatabaseTlsAdvice(new Error("outer", { cause: err }));
    assert.ok(isDatabaseTlsError(wrapped));
    assert.equal(wrapped.message, "the database server's certificate is out of date (CERT_HAS_EXPIRED): renew it: certificate has expired");
    assert.equal((wrapped.cause as Error).cause, err);
    assert.equal(withDatabaseTlsAdvice(wrapped), wrapped);
    const alert = Object.assign(coded("80:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:rec_layer_s3.c:1601:SSL alert number 48\n", "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"), { reason: "tlsv1 alert unknown ca" });
    assert.match((withDatabaseTlsAdvice(alert) as Error).message, /\(issued by a CA the server trusts, not expired\): tlsv1 alert unknown ca$/);
    const other = new Error("boom");
    assert.equal(withDatabaseTlsAdvice(other), other);
  });
});

// A server that answers PostgreSQL's SSLRequest with "N", as one with ssl = off does: what
// node-postgres then says must be what databaseTlsProblem knows.
describe("a server without TLS", () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((socket) => socket.once("data", () => socket.write("N")));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("is told to turn ssl on, or the URL to ask for none", async () => {
    const client = new pg.Client({ connectionString: `postgres://weir@127.0.0.1:${port}/weir?sslmode=verify-full` });
    const err = await client.connect().then(
      () => assert.fail("connected"),
      (e: unknown) => e,
    );
    assert.equal(
      databaseTlsProblem(err),
      "the database server does not accept TLS connections: turn ssl on in its postgresql.conf, or remove sslmode from the database URL",
    );
    assert.equal(isConnectionRefusedByConfiguration(err), true);
  });
});
