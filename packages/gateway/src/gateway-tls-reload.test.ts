// Pins Gateway.reloadTls for library users: it swaps the certificate served to new connections,
// calls made together each read the files, files that cannot serve reject
// with TlsFilesError and leave the certificate in use, and a gateway that serves no TLS (or has
// stopped) says so. The SIGHUP path through `weir gateway` is test/e2e/tls-reload.test.ts.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { isTlsFilesError } from "./tls-files.js";
import { startHarness, type Harness } from "./test-harness.js";

const openssl = (args: string[]) => promisify(execFile)("openssl", args);

let dir: string;
/** Where the gateway reads its files. */
let live: { certFile: string; keyFile: string };
const pairs: Record<"first" | "second", { cert: string; key: string; sha256: string; expiry: number }> = {} as never;
const DAYS = { first: 1, second: 90 };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "weir-tls-reload-"));
  for (const name of ["first", "second"] as const) {
    const [cert, key] = [join(dir, `${name}.crt`), join(dir, `${name}.key`)];
    await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", String(DAYS[name]), "-subj", `/CN=${name}`, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert]);
    const x509 = new X509Certificate(await readFile(cert));
    pairs[name] = { cert, key, sha256: x509.fingerprint256, expiry: Date.parse(x509.validTo) / 1000 };
  }
  live = { certFile: join(dir, "live.crt"), keyFile: join(dir, "live.key") };
  await install("first");
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function install(name: "first" | "second"): Promise<void> {
  await copyFile(pairs[name].cert, live.certFile);
  await copyFile(pairs[name].key, live.keyFile);
}

/** weir_gateway_tls_certificate_expiry_timestamp_seconds, or undefined without the series. */
async function expiryMetric(h: Harness): Promise<number | undefined> {
  const gauge = h.gateway.metrics.registry.getSingleMetric("weir_gateway_tls_certificate_expiry_timestamp_seconds");
  return gauge === undefined ? undefined : (await gauge.get()).values[0]?.value;
}

/** The fingerprint of the certificate a new connection is served (not verified: only read). */
function served(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port: Number(new URL(url).port), rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on("error", reject);
  });
}

describe("Gateway.reloadTls", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ gateway: { tls: live } });
  });
  after(async () => {
    await h?.close();
  });

  it("serves new connections the files' new certificate; calls made together each read the files", async () => {
    assert.equal(await served(h.gateway.url), pairs.first.sha256);
    assert.equal(await expiryMetric(h), pairs.first.expiry);
    await install("second");
    await Promise.all([h.gateway.reloadTls(), h.gateway.reloadTls()]);
    assert.equal(await served(h.gateway.url), pairs.second.sha256);
    assert.equal(await expiryMetric(h), pairs.second.expiry);
    const reloaded = h.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "TLS certificate reloaded");
    assert.deepEqual(
      reloaded.map((l) => [l.tls_certificate.subject, l.tls_certificate.sha256]),
      [
        ["CN=second", pairs.second.sha256],
        ["CN=second", pairs.second.sha256],
      ],
    );
  });

  it("rejects files that cannot serve with TlsFilesError and keeps the certificate in use", async () => {
    await copyFile(pairs.first.key, live.keyFile);
    await assert.rejects(h.gateway.reloadTls(), (err) => isTlsFilesError(err) && err.problem === "key_mismatch" && err.option === "keyFile");
    assert.equal(await served(h.gateway.url), pairs.second.sha256);
    assert.equal(await expiryMetric(h), pairs.second.expiry);
    // The queue of reloads goes on after a failure.
    await install("first");
    await h.gateway.reloadTls();
    assert.equal(await served(h.gateway.url), pairs.first.sha256);
  });

  it("refuses once the gateway has stopped", async () => {
    await h.gateway.shutdown();
    await assert.rejects(h.gateway.reloadTls(), { message: "gateway cannot reload its TLS files: it is stopped" });
  });
});

describe("Gateway.reloadTls without TLS", () => {
  it("says the gateway serves no TLS, and it exports no certificate expiry", async () => {
    const h = await startHarness();
    try {
      assert.equal(await expiryMetric(h), undefined);
      await assert.rejects(h.gateway.reloadTls(), { message: "this gateway serves no TLS: it has no tls files to reload" });
    } finally {
      await h.close();
    }
  });
});
