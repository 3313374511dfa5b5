// The admin commands against a control plane whose TLS does not fit their settings, as operators
// get it wrong: a certificate from a private CA the CLI does not trust, one that does not name
// the URL's host, https:// to a server without TLS and http:// to one with it. Each ends with
// exit 1 and one line saying what happened and what to change, not "cannot reach" (the control
// plane was reached). With NODE_EXTRA_CA_CERTS the private CA's certificate is accepted.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runWeir } from "./stack.js";
import { startTlsControlPlane, type TlsControlPlane } from "./tls-control-plane.js";

let tls: TlsControlPlane;

before(async () => {
  tls = await startTlsControlPlane({ privateCa: true });
});
after(async () => {
  await tls?.stop();
});

async function keysCreate(url: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const proc = runWeir(["keys", "create", "tls-test"], { WEIR_CONTROL_PLANE_URL: url, WEIR_ADMIN_TOKEN: tls.ownerToken, WEIR_DIR: "/nonexistent", NODE_EXTRA_CA_CERTS: undefined, ...env });
  const { code } = await proc.exited;
  return { code, out: proc.output() };
}

describe("weir keys create and the control plane's TLS", () => {
  it("names NODE_EXTRA_CA_CERTS when the certificate is from a CA it does not trust", async () => {
    assert.match(tls.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const { code, out } = await keysCreate(tls.url);
    assert.equal(code, 1, out);
    assert.equal(
      out,
      `weir: the control plane's TLS certificate at ${tls.url} is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE): for a private CA, set NODE_EXTRA_CA_CERTS to its certificate file\n`,
    );
  });

  it("trusts the private CA given in NODE_EXTRA_CA_CERTS", async () => {
    const { code, out } = await keysCreate(tls.url, { NODE_EXTRA_CA_CERTS: tls.trustFile });
    assert.equal(code, 0, out);
    assert.match(out, /^ {2}key: {4}wgk_[0-9A-Za-z]{39}$/m);
  });

  it("says when the certificate does not name the URL's host", async () => {
    // Issued for IP 127.0.0.1 only.
    const url = tls.url.replace("127.0.0.1", "localhost");
    const { code, out } = await keysCreate(url, { NODE_EXTRA_CA_CERTS: tls.trustFile });
    assert.equal(code, 1, out);
    assert.equal(out, `weir: the control plane's TLS certificate does not name the host of ${url} (ERR_TLS_CERT_ALTNAME_INVALID): use a host name it was issued for\n`);
  });

  it("says when https:// points at a server without TLS", async () => {
    const url = tls.plainHttp.url.replace("http://", "https://");
    const { code, out } = await keysCreate(url);
    assert.equal(code, 1, out);
    assert.equal(out, `weir: the control plane at ${url} does not speak TLS: use an http:// URL, or give it --tls-cert-file and --tls-key-file\n`);
  });

  it("hints at https:// when http:// points at a control plane with TLS", async () => {
    const url = tls.url.replace("https://", "http://");
    const { code, out } = await keysCreate(url);
    assert.equal(code, 1, out);
    // The TLS server closes the connection on the cleartext request, or (by timing) resets it.
    assert.match(out, /^weir: the connection to the control plane at http:\/\/127\.0\.0\.1:\d+ failed \((UND_ERR_SOCKET|ECONNRESET)\): if the control plane serves TLS, its URL needs https:\/\/\n$/);
    assert.ok(out.includes(` at ${url} failed (`), out);
  });
});
