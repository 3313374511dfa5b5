// PostgreSQL over TLS, as the database URL asks for it (sslmode, sslrootcert, sslcert, sslkey),
// against an embedded server of this test's own that accepts only TLS: a private CA issued its
// certificate (IP 127.0.0.1) and the client certificates, and pg_hba.conf lets one role in by
// client certificate alone and every other by password over TLS. `weir` runs as an operator runs
// it; the server's own view (pg_stat_ssl) says whether a connection really used TLS.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { appendFile, chmod, chown, copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import pg from "pg";
import pino from "pino";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "@weir/controlplane";
import { makeTestCertificates, type TestCertificates } from "./tls-control-plane.js";
import { eventually, listeningUrl, logLines, runWeir, type WeirProcess } from "./stack.js";

const CERT_ROLE = "weir_cert";
const openssl = (args: string[]) => promisify(execFile)("openssl", args);

let dir: string;
let dataDir: string;
let server: EmbeddedPostgres;
let certs: TestCertificates;
let superuser: pg.Client;
/** The embedded superuser's password (it logs in over TLS with it). */
let password: string;
let clientCert: string;
let clientKey: string;
/** A client certificate the CA issued for another name than the role's. */
let strangerCert: string;
let strangerKey: string;
/** A certificate and key from a CA the server does not know. */
let foreign: TestCertificates;

/** A client certificate and key for `cn`, issued by the test CA. */
async function clientCertificate(cn: string): Promise<{ cert: string; key: string }> {
  const key = join(certs.dir, `${cn}-key.pem`);
  const csr = join(certs.dir, `${cn}.csr`);
  const cert = join(certs.dir, `${cn}.pem`);
  await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${cn}`, "-keyout", key, "-out", csr]);
  // makeTestCertificates' otherKeyFile is the CA's key when it made a private CA.
  await openssl(["x509", "-req", "-in", csr, "-CA", certs.trustFile, "-CAkey", certs.otherKeyFile, "-days", "1", "-out", cert]);
  return { cert, key };
}

/** The server's files go into its data directory, owned by the user it runs as (it checks). */
async function serverFile(from: string, name: string): Promise<void> {
  const owner = await stat(dataDir);
  await copyFile(from, join(dataDir, name));
  await chown(join(dataDir, name), owner.uid, owner.gid);
  await chmod(join(dataDir, name), 0o600);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "weir-db-tls-"));
  dataDir = join(dir, "postgres");
  const logger = pino({ level: "silent" });
  // Initialised and set up without TLS first, then restarted with it.
  const plain = await startEmbeddedPostgres({ dataDir, logger });
  password = decodeURIComponent(new URL(plain.url).password);
  const setup = new pg.Client({ connectionString: plain.url });
  await setup.connect();
  await setup.query(`CREATE ROLE ${CERT_ROLE} LOGIN`);
  await setup.query(`CREATE DATABASE ${CERT_ROLE} OWNER ${CERT_ROLE}`);
  await setup.end();
  await plain.stop();

  certs = await makeTestCertificates({ privateCa: true, commonName: "weir-test-postgres" });
  ({ cert: clientCert, key: clientKey } = await clientCertificate(CERT_ROLE));
  ({ cert: strangerCert, key: strangerKey } = await clientCertificate("someone_else"));
  foreign = await makeTestCertificates({ privateCa: true, commonName: CERT_ROLE });
  await serverFile(certs.certFile, "server.crt");
  await serverFile(certs.keyFile, "server.key");
  await serverFile(certs.trustFile, "root.crt");
  await appendFile(join(dataDir, "postgresql.conf"), "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\n");
  // No line for connections without TLS: PostgreSQL refuses them ("…, no encryption").
  await writeFile(join(dataDir, "pg_hba.conf"), `hostssl all ${CERT_ROLE} 127.0.0.1/32 cert\nhostssl all all 127.0.0.1/32 scram-sha-256\n`);
  server = await startEmbeddedPostgres({ dataDir, logger });
  superuser = new pg.Client({ connectionString: server.url, ssl: { ca: await readFile(certs.trustFile, "utf8") } });
  await superuser.connect();
});
after(async () => {
  await superuser?.end();
  await server?.stop();
  if (certs) await rm(certs.dir, { recursive: true, force: true });
  if (foreign) await rm(foreign.dir, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A URL for the certificate role, with these TLS parameters (paths are not encoded: none has to be). */
const certRoleUrl = (params: string) => `postgres://${CERT_ROLE}@127.0.0.1:${server.port}/${CERT_ROLE}?${params}`;
const verified = () => `sslmode=verify-full&sslrootcert=${certs.trustFile}`;

/** The role's sessions as the server sees them: TLS or not, and the client certificate's name. */
async function sessionsOf(role: string): Promise<{ ssl: boolean; client_dn: string | null; query: string }[]> {
  const { rows } = await superuser.query(
    "SELECT s.ssl, s.client_dn, a.query FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.usename = $1",
    [role],
  );
  return rows;
}

/** `weir migrate` with this URL: its exit code and what it wrote. */
async function migrate(url: string, extra: string[] = []): Promise<{ code: number | null; out: string }> {
  const proc = runWeir(["migrate", "--database-url", url, ...extra], { DATABASE_URL: "" });
  const { code } = await proc.exited;
  return { code, out: proc.output() };
}

describe("weir on a PostgreSQL that accepts only TLS", () => {
  let controlPlane: WeirProcess;
  let cpUrl: string;
  let ownerToken: string;

  after(async () => {
    if (controlPlane?.child.exitCode === null) controlPlane.child.kill("SIGTERM");
    await controlPlane?.exited;
  });

  const users = async () => {
    const res = await fetch(`${cpUrl}/api/v2/users`, { headers: { authorization: `Bearer ${ownerToken}` } });
    return { status: res.status, body: await res.text() };
  };

  it("bootstraps and runs the control plane, verifying the server and logging in by client certificate", async () => {
    const url = certRoleUrl(`${verified()}&sslcert=${clientCert}&sslkey=${clientKey}`);
    const bootstrap = runWeir(["users", "create", "admin", "--bootstrap", "--json", "--database-url", url], { DATABASE_URL: "" });
    const { code } = await bootstrap.exited;
    assert.equal(code, 0, bootstrap.output());
    ownerToken = JSON.parse(bootstrap.output()).key;

    controlPlane = runWeir(["control-plane", "--listen", "127.0.0.1:0", "--log-level", "info"], { WEIR_DATABASE_URL: url, DATABASE_URL: "" });
    cpUrl = await listeningUrl(controlPlane, "control plane listening");
    assert.equal((await users()).status, 200);
    // Every connection of the role, the LISTEN one for authorization changes included, is TLS
    // with the client certificate (the role has no password: there is no other way in).
    const sessions = await eventually("the LISTEN session", async () => {
      const rows = await sessionsOf(CERT_ROLE);
      return rows.some((r) => r.query.startsWith("LISTEN")) ? rows : undefined;
    });
    for (const s of sessions) assert.deepEqual({ ssl: s.ssl, client_dn: s.client_dn }, { ssl: true, client_dn: `/CN=${CERT_ROLE}` });
  });

  /** Ends the role's sessions, then expects every new connection to fail: three 503s in a row. */
  async function outage(what: string): Promise<void> {
    await superuser.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [CERT_ROLE]);
    await eventually("the sessions ended", async () => ((await sessionsOf(CERT_ROLE)).length === 0 ? true : undefined));
    // The first answers may still come from pooled connections the termination just ended (an
    // outage either way); once those are gone, each request opens a new connection.
    await eventually(what, async () => ((await users()).status === 200 ? undefined : true));
    const unavailable = { status: 503, body: JSON.stringify({ message: "The database is unavailable. Try again later." }) };
    assert.deepEqual([await users(), await users(), await users()], [unavailable, unavailable, unavailable], what);
    assert.deepEqual(await sessionsOf(CERT_ROLE), [], "no connection got in");
  }

  it("answers 503 while the server's certificate cannot be verified or the CA file is gone, and recovers without a restart", async () => {
    // sslrootcert is read at every new connection: a CA file that no longer holds the issuer
    // makes every login fail verification; one that is not there (a renewal replacing it) fails
    // every connection before it starts. Outages for the operator to mend, not crashes.
    const original = await readFile(certs.trustFile);
    const other = await makeTestCertificates({ privateCa: true, commonName: "unrelated" });
    try {
      await copyFile(other.trustFile, certs.trustFile);
      await outage("a refusal while the CA file names another CA");
      await rm(certs.trustFile);
      await outage("a refusal while the CA file is gone");
      // The LISTEN connection's retries meet the missing file too, and go on (backoff ≤ 5 s).
      const gone = `a TLS file of the database URL cannot be read: ${certs.trustFile}: no such file`;
      await eventually("the LISTEN retry failing on the missing file", async () => (logLines(controlPlane, "listen connection failed").some((l) => l.err === gone) ? true : undefined), 15_000);
    } finally {
      await writeFile(certs.trustFile, original);
      await rm(other.dir, { recursive: true, force: true });
    }
    await eventually("the admin API again", async () => ((await users()).status === 200 ? true : undefined), 15_000);
    // The LISTEN connection came back too (its retries survived the missing file).
    await eventually("the LISTEN session again", async () => ((await sessionsOf(CERT_ROLE)).some((r) => r.query.startsWith("LISTEN")) ? true : undefined), 15_000);
    assert.equal(controlPlane.child.exitCode, null);
    assert.equal(logLines(controlPlane, "control plane listening").length, 1, "not restarted");
  });
});

describe("TLS settings that cannot work, refused at start-up in one line", () => {
  const cases: { name: string; url: () => string; want: () => string }[] = [
    {
      name: "no sslrootcert for a private CA (Node's CA list does not have it)",
      url: () => certRoleUrl(`sslmode=verify-full&sslcert=${clientCert}&sslkey=${clientKey}`),
      want: () =>
        "weir: cannot verify the database server's certificate (SELF_SIGNED_CERT_IN_CHAIN): give the CA that issued it with sslrootcert=<file> in the database URL: self-signed certificate in certificate chain\n",
    },
    {
      name: "no TLS asked of a server that accepts only TLS",
      url: () => certRoleUrl(""),
      want: () =>
        `weir: no pg_hba.conf line of the database server admits this connection without TLS: if the server takes TLS connections, add sslmode=verify-full to the database URL (and sslrootcert=<file> for a private CA): no pg_hba.conf entry for host "127.0.0.1", user "${CERT_ROLE}", database "${CERT_ROLE}", no encryption\n`,
    },
    {
      name: "a client certificate from a CA the server does not trust",
      url: () => certRoleUrl(`${verified()}&sslcert=${foreign.certFile}&sslkey=${foreign.keyFile}`),
      want: () =>
        "weir: the database server refused the client certificate (ERR_SSL_TLSV1_ALERT_UNKNOWN_CA): check sslcert and sslkey in the database URL (issued by a CA the server trusts, not expired): tlsv1 alert unknown ca\n",
    },
    {
      name: "an sslkey of another certificate",
      url: () => certRoleUrl(`${verified()}&sslcert=${clientCert}&sslkey=${strangerKey}`),
      want: () => `weir: the database URL's sslcert ${clientCert} and sslkey ${strangerKey} cannot serve as a client certificate: key values mismatch\n`,
    },
    {
      name: "an sslcert without its sslkey",
      url: () => certRoleUrl(`${verified()}&sslcert=${clientCert}`),
      want: () => "weir: the database URL gives sslcert and sslkey together or not at all: the client certificate and its private key\n",
    },
    {
      name: "no client certificate where the server asks for one",
      url: () => certRoleUrl(verified()),
      want: () =>
        "weir: the database server asks for a client certificate: give it with sslcert=<file>&sslkey=<file> in the database URL: connection requires a valid client certificate\n",
    },
    {
      name: "a client certificate issued for another user",
      url: () => certRoleUrl(`${verified()}&sslcert=${strangerCert}&sslkey=${strangerKey}`),
      want: () => `weir: the client certificate (sslcert) does not name the database URL's user as its common name (CN): certificate authentication failed for user "${CERT_ROLE}"\n`,
    },
    {
      name: "an sslrootcert that is not there",
      url: () => certRoleUrl(`sslmode=verify-full&sslrootcert=${join(dir, "missing-ca.pem")}`),
      want: () => `weir: the database URL's sslrootcert ${join(dir, "missing-ca.pem")}: cannot read it: no such file\n`,
    },
    {
      name: "an sslkey that is not there",
      url: () => certRoleUrl(`${verified()}&sslcert=${clientCert}&sslkey=${join(dir, "missing-key.pem")}`),
      want: () => `weir: the database URL's sslkey ${join(dir, "missing-key.pem")}: cannot read it: no such file\n`,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: weir control-plane and weir migrate`, async () => {
      for (const command of [["control-plane", "--listen", "127.0.0.1:0"], ["migrate"]]) {
        const proc = runWeir([...command, "--database-url", c.url()], { DATABASE_URL: "", WEIR_DATABASE_URL: "" });
        const { code } = await proc.exited;
        // Not retried as an outage: the first attempt's answer, at once.
        assert.deepEqual({ code, out: proc.output() }, { code: 1, out: c.want() }, command[0]);
      }
    });
  }
});

describe("sslmode as node-postgres reads it", () => {
  it("takes sslmode=require as verify-full, says so in one log line, and logs in with a password file over TLS", async () => {
    const passwordFile = join(dir, "db-password");
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    const url = `postgres://weir@127.0.0.1:${server.port}/postgres?sslmode=require&sslrootcert=${certs.trustFile}`;
    const { code, out } = await migrate(url, ["--database-password-file", passwordFile]);
    assert.equal(code, 0, out);
    const lines = out.split("\n").filter((l) => l !== "");
    // This database's first migration: every migration applied, over TLS.
    const said = lines.filter((l) => !l.startsWith("{"));
    assert.ok(said.length > 0 && said.every((l) => l.startsWith("applied ")), out);
    const logged = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    assert.deepEqual(
      logged.map((l) => [l.level, l.sslmode, l.msg]),
      [[40, "require", "database URL: sslmode=require verifies the server's certificate and host name, as verify-full (node-postgres); add uselibpqcompat=true for libpq's meaning"]],
    );
    // Node's own multi-line process warning is not printed beside it.
    assert.ok(!out.includes("SECURITY WARNING"), out);
    assert.ok(!out.includes(password), "the password was printed");
  });

  it("verifies under sslmode=require as well: no CA, no connection", async () => {
    const { code, out } = await migrate(`postgres://weir:${encodeURIComponent(password)}@127.0.0.1:${server.port}/postgres?sslmode=require`);
    assert.equal(code, 1);
    assert.equal(
      out.split("\n").at(-2),
      "weir: cannot verify the database server's certificate (SELF_SIGNED_CERT_IN_CHAIN): give the CA that issued it with sslrootcert=<file> in the database URL: self-signed certificate in certificate chain",
    );
  });

  it("leaves libpq's meaning to uselibpqcompat=true: sslmode=require encrypts without verifying", async () => {
    const { code, out } = await migrate(`postgres://weir:${encodeURIComponent(password)}@127.0.0.1:${server.port}/postgres?sslmode=require&uselibpqcompat=true`);
    assert.deepEqual({ code, out }, { code: 0, out: "database is up to date\n" });
  });
});
