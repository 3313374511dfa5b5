// `weir gateway` against a control plane whose TLS does not fit its settings, as operators get it
// wrong: an untrusted certificate, and https:// to a server without TLS, each end start-up with
// exit 1 and one line saying what to change (they never fix themselves; retrying forever hid
// them behind "unreachable"). With NODE_EXTRA_CA_CERTS the same certificate is accepted.
// http:// to the control plane with TLS is retried, and every retry's log line hints at https://.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually, runWeir } from "./stack.js";
import { startTlsControlPlane, type TlsControlPlane } from "./tls-control-plane.js";

let tls: TlsControlPlane;
/** A gateway key's shape, unknown to the control plane. */
const UNKNOWN_KEY = `wgk_${"0123456789abcdefghijklm".repeat(2).slice(0, 39)}`;

before(async () => {
  tls = await startTlsControlPlane({ privateCa: false });
});
after(async () => {
  await tls?.stop();
});

async function gatewayExit(url: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const gateway = runWeir(["gateway", "--listen", "127.0.0.1:0", "--control-plane-url", url], { WEIR_GATEWAY_KEY: UNKNOWN_KEY, ...env });
  const { code } = await gateway.exited;
  assert.equal(code, 1, gateway.output());
  // The log goes to stdout, the one line for the operator to stderr.
  const lines = gateway.output().split("\n").filter((l) => l.startsWith("weir: "));
  assert.equal(lines.length, 1, gateway.output());
  return lines[0]!;
}

describe("weir gateway and the control plane's TLS", () => {
  it("stops at once, naming NODE_EXTRA_CA_CERTS, when it does not trust the certificate", async () => {
    assert.match(tls.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const line = await gatewayExit(tls.url);
    assert.match(line, /^weir: the control plane's TLS certificate at https:\/\/127\.0\.0\.1:\d+ is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\): for a private CA, set NODE_EXTRA_CA_CERTS to its certificate file/);
  });

  it("accepts the certificate with NODE_EXTRA_CA_CERTS (and then judges the key)", async () => {
    const line = await gatewayExit(tls.url, { NODE_EXTRA_CA_CERTS: tls.trustFile });
    assert.equal(line, "weir: control plane rejected gateway key wgk_0123456...: AI Gateway key invalid.");
  });

  it("stops at once when the certificate does not name the URL's host", async () => {
    // Issued for IP 127.0.0.1 only.
    const line = await gatewayExit(tls.url.replace("127.0.0.1", "localhost"), { NODE_EXTRA_CA_CERTS: tls.trustFile });
    assert.match(line, /^weir: the control plane's TLS certificate does not name the host of https:\/\/localhost:\d+ \(ERR_TLS_CERT_ALTNAME_INVALID\): use a host name it was issued for$/);
  });

  it("retries when http:// points at the control plane with TLS, every retry's log line hinting at https://", async () => {
    const url = tls.url.replace("https://", "http://");
    const gateway = runWeir(["gateway", "--listen", "127.0.0.1:0", "--log-level", "info", "--control-plane-url", url], {
      WEIR_GATEWAY_KEY: UNKNOWN_KEY,
    });
    try {
      // The TLS server drops each cleartext connection: reset (ECONNRESET) or closed, which fails
      // the call as "http/2 stream closed with error code CANCEL (0x8)" — often from the first.
      const retries = await eventually("six retry log lines", async () => {
        const lines = gateway.output().split("\n").filter((l) => /"msg":"control plane (unreachable at start-up|still unreachable)/.test(l));
        return lines.length >= 6 ? lines.map((l) => JSON.parse(l) as { hint?: string; err: { message: string } }) : undefined;
      }, 20_000);
      for (const line of retries) assert.equal(line.hint, "if the control plane serves TLS, its URL needs https://", line.err.message);
      assert.equal(gateway.child.exitCode, null, gateway.output());
    } finally {
      gateway.child.kill("SIGTERM");
      await gateway.exited;
    }
  });

  it("stops at once when https:// points at a server without TLS", async () => {
    const url = tls.plainHttp.url.replace("http://", "https://");
    const line = await gatewayExit(url);
    assert.equal(line.startsWith(`weir: the control plane at ${url} does not speak TLS: use an http:// URL, or give it --tls-cert-file and --tls-key-file`), true, line);
  });
});
