// Certificate renewal without a restart: `weir gateway` and `weir control-plane
// --embedded-gateway` given TLS files read them again on SIGHUP. New connections get the new
// certificate; a stream opened before the reload finishes whole over the old one, and a gateway
// replica's HTTP/2 session to the control plane carries on. Files that cannot serve (a renewal
// half written) leave the previous certificate in use and one log line naming the flag and the
// file. A reload cannot lower the TLS floor. A client that connects and never begins its
// handshake is dropped after 10 s, not Node's 120 s.
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { X509Certificate } from "node:crypto";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { Agent, fetch as undiciFetch } from "undici";
import { DEFAULT_TEXT, emulatorText } from "@weir/llm-emulator";
import { eventually, listeningUrl, logLines, reloadAndWait, runWeir, startStack, type Stack, type WeirProcess } from "./stack.js";
import { makeTestCertificates, type TestCertificates } from "./tls-control-plane.js";

/** The files a daemon is given, in a directory of its own, and the two certificates put there in turn. */
interface LiveFiles {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
}

let stack: Stack;
let first: TestCertificates;
let renewed: TestCertificates;
/** Both self-signed certificates, as a client trusting either. */
let trust: Buffer[];
let trusting: Agent;

const fingerprint = async (certFile: string) => new X509Certificate(await readFile(certFile)).fingerprint256;
const expirySeconds = async (certFile: string) => Date.parse(new X509Certificate(await readFile(certFile)).validTo) / 1000;

/** The value of `name` on `base`'s /metrics, or undefined when it has no such series. */
async function metric(base: string, f: typeof fetch, name: string): Promise<number | undefined> {
  const text = await (await f(`${base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}
const GATEWAY_EXPIRY = "weir_gateway_tls_certificate_expiry_timestamp_seconds";
const CONTROL_PLANE_EXPIRY = "weir_controlplane_tls_certificate_expiry_timestamp_seconds";
// Whether the last load of the TLS files worked (reload-metrics.ts): what an operator alerts on.
const GATEWAY_TLS_LOADED = 'weir_gateway_reload_successful{files="tls"}';
const CONTROL_PLANE_TLS_LOADED = 'weir_controlplane_reload_successful{files="tls"}';
const CONTROL_PLANE_TLS_LOADED_AT = 'weir_controlplane_reload_last_success_timestamp_seconds{files="tls"}';

async function liveFiles(): Promise<LiveFiles> {
  const dir = await mkdtemp(join(tmpdir(), "weir-tls-live-"));
  const live = { dir, certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") };
  await install(live, first);
  return live;
}

/** Puts a certificate and its key where the daemon reads them, as a renewal tool would. */
async function install(live: LiveFiles, certs: TestCertificates): Promise<void> {
  await copyFile(certs.certFile, live.certFile);
  await copyFile(certs.keyFile, live.keyFile);
}

/** The fingerprint of the certificate a new TLS connection to `url` is served. */
function servedCertificate(url: string, options: ConnectionOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port: Number(new URL(url).port), ca: trust, ...options }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on("error", reject);
  });
}

/** fetch trusting both certificates, over `agent`'s connections. */
const fetchOver = (agent: Agent) => ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
const trustingFetch: typeof fetch = (input, init) => fetchOver(trusting)(input, init);

before(async () => {
  first = await makeTestCertificates({ privateCa: false, commonName: "weir-first" });
  // Valid longer, as a renewal is: the expiry metric moves.
  renewed = await makeTestCertificates({ privateCa: false, commonName: "weir-renewed", days: 90 });
  trust = [await readFile(first.trustFile), await readFile(renewed.trustFile)];
  trusting = new Agent({ connect: { ca: trust } });
  stack = await startStack({ replicas: 0 });
});
after(async () => {
  await trusting?.close();
  await stack?.stop();
  for (const certs of [first, renewed]) if (certs) await rm(certs.dir, { recursive: true, force: true });
});

describe("weir gateway reloading its TLS files on SIGHUP", () => {
  let live: LiveFiles;
  let gateway: WeirProcess;
  let url: string;

  before(async () => {
    live = await liveFiles();
    gateway = runWeir(["gateway", "--listen", "127.0.0.1:0", "--log-level", "info", "--tls-cert-file", live.certFile, "--tls-key-file", live.keyFile], {
      WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
      WEIR_GATEWAY_KEY: stack.gatewayKey.key,
      WEIR_OPENAI_BASE_URL: stack.emulator.openaiBaseUrl,
      WEIR_OPENAI_API_KEY: "sk-central-openai",
      // Node's own minimum lowered: the gateway's stays TLS 1.2, after a reload too.
      NODE_OPTIONS: [process.env.NODE_OPTIONS, "--tls-min-v1.0"].filter(Boolean).join(" "),
    });
    url = await listeningUrl(gateway, "gateway listening");
    await eventually("the gateway to be ready", async () => ((await trustingFetch(`${url}/readyz`)).ok ? true : undefined), 30_000);
  });
  after(async () => {
    if (gateway?.child.exitCode === null) gateway.child.kill("SIGTERM");
    await gateway?.exited;
    if (live) await rm(live.dir, { recursive: true, force: true });
  });

  const openai = () => new OpenAI({ baseURL: `${url}/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0, fetch: trustingFetch });

  it("logs the certificate it starts with", async () => {
    const [line] = logLines(gateway, "gateway listening");
    assert.deepEqual(line.tls_certificate, {
      subject: "CN=weir-first",
      not_after: new Date(new X509Certificate(await readFile(first.certFile)).validTo).toISOString(),
      sha256: await fingerprint(first.certFile),
    });
    assert.equal(await servedCertificate(url), await fingerprint(first.certFile));
    assert.equal(await metric(url, trustingFetch, GATEWAY_EXPIRY), await expirySeconds(first.certFile));
  });

  it("serves the renewed certificate to new connections, while a stream opened before finishes whole", async () => {
    const events = 20; // 1 s: the reload happens while it runs
    const stream = await openai().chat.completions.create(
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "A stream across a renewal" }], stream: true },
      { headers: { "x-emulator-event-delay-ms": "50", "x-emulator-events": String(events) } },
    );
    // Read as it arrives, noting when the last event came.
    const relayed = (async () => {
      let text = "";
      let lastAt = 0;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        lastAt = Date.now();
      }
      return { text, lastAt };
    })();

    await install(live, renewed);
    const line = await reloadAndWait(gateway, "TLS certificate reloaded", 1);
    assert.equal(line.tls_certificate.subject, "CN=weir-renewed");
    assert.equal(line.tls_certificate.sha256, await fingerprint(renewed.certFile));
    assert.equal(await servedCertificate(url), await fingerprint(renewed.certFile));
    assert.equal(await metric(url, trustingFetch, GATEWAY_EXPIRY), await expirySeconds(renewed.certFile));

    const { text, lastAt } = await relayed;
    assert.equal(text, emulatorText(events));
    assert.ok(lastAt > line.time, "the stream was still relaying when the certificate was reloaded");
    // A request on a new connection gets its answer.
    const agent = new Agent({ connect: { ca: trust } });
    try {
      const fresh = new OpenAI({ baseURL: `${url}/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0, fetch: fetchOver(agent) });
      const res = await fresh.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "After the renewal" }] });
      assert.equal(res.choices[0]!.message.content, DEFAULT_TEXT);
    } finally {
      await agent.close();
    }
    assert.equal(gateway.child.exitCode, null);
  });

  it("keeps the previous certificate when the new key does not match, naming the flag and the file", async () => {
    await copyFile(first.keyFile, live.keyFile);
    const line = await reloadAndWait(gateway, "TLS files not reloaded; the previous certificate is still served", 1);
    assert.equal(line.err, `--tls-key-file ${live.keyFile}: does not match the certificate in --tls-cert-file ${live.certFile}`);
    assert.equal(line.level, 50);
    assert.equal(await servedCertificate(url), await fingerprint(renewed.certFile));
    assert.equal(await metric(url, trustingFetch, GATEWAY_EXPIRY), await expirySeconds(renewed.certFile));
    assert.equal(await metric(url, trustingFetch, GATEWAY_TLS_LOADED), 0);
    assert.equal((await trustingFetch(`${url}/healthz`)).status, 200);
    assert.equal(gateway.child.exitCode, null);
  });

  it("keeps the previous certificate when a file is missing", async () => {
    await rm(live.certFile);
    const line = await reloadAndWait(gateway, "TLS files not reloaded; the previous certificate is still served", 2);
    assert.equal(line.err, `--tls-cert-file ${live.certFile}: cannot read it: no such file`);
    assert.equal(await servedCertificate(url), await fingerprint(renewed.certFile));
    // Once the renewal is whole, the next SIGHUP takes it.
    await install(live, first);
    const reloaded = await reloadAndWait(gateway, "TLS certificate reloaded", 2);
    assert.equal(reloaded.tls_certificate.sha256, await fingerprint(first.certFile));
    assert.equal(await servedCertificate(url), await fingerprint(first.certFile));
    assert.equal(await metric(url, trustingFetch, GATEWAY_TLS_LOADED), 1);
  });

  it("still refuses TLS 1.1 after reloads, whatever Node's own minimum", async () => {
    // The client's security level lowered too, or it would refuse TLS 1.1 itself.
    await assert.rejects(
      servedCertificate(url, { minVersion: "TLSv1.1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" }),
      (err: NodeJS.ErrnoException) => err.code === "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
    );
  });
});

describe("weir control-plane --embedded-gateway reloading its TLS files on SIGHUP", () => {
  let live: LiveFiles;
  let controlPlane: WeirProcess;
  let url: string;
  /** A gateway replica (cleartext itself) connected to this control plane over TLS. */
  let replica: WeirProcess;
  let replicaUrl: string;

  before(async () => {
    live = await liveFiles();
    await writeFile(join(live.dir, "trust.pem"), Buffer.concat(trust));
    controlPlane = runWeir(
      ["control-plane", "--embedded-gateway", "--listen", "127.0.0.1:0", "--log-level", "info", "--tls-cert-file", live.certFile, "--tls-key-file", live.keyFile],
      { WEIR_DATABASE_URL: stack.database.url, WEIR_OPENAI_BASE_URL: stack.emulator.openaiBaseUrl, WEIR_OPENAI_API_KEY: "sk-central-openai" },
    );
    url = await listeningUrl(controlPlane, "control plane listening");
    replica = runWeir(["gateway", "--listen", "127.0.0.1:0", "--log-level", "info"], {
      WEIR_CONTROL_PLANE_URL: url,
      NODE_EXTRA_CA_CERTS: join(live.dir, "trust.pem"),
      WEIR_GATEWAY_KEY: stack.gatewayKey.key,
      WEIR_OPENAI_BASE_URL: stack.emulator.openaiBaseUrl,
      WEIR_OPENAI_API_KEY: "sk-central-openai",
    });
    replicaUrl = await listeningUrl(replica, "gateway listening");
    await eventually("the replica to be ready", async () => ((await fetch(`${replicaUrl}/readyz`)).ok ? true : undefined), 30_000);
  });
  after(async () => {
    for (const proc of [replica, controlPlane]) {
      if (proc?.child.exitCode === null) proc.child.kill("SIGTERM");
      await proc?.exited;
    }
    if (live) await rm(live.dir, { recursive: true, force: true });
  });

  const chat = async (base: string, f: typeof fetch, content: string) => {
    const res = await f(`${base}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${stack.user.apiKey}` },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }] }),
    });
    return { status: res.status, content: ((await res.json()) as any).choices?.[0]?.message?.content };
  };

  it("serves the renewed certificate to new connections; the replica's session and the embedded gateway carry on", async () => {
    assert.equal(logLines(controlPlane, "control plane listening")[0].tls_certificate.sha256, await fingerprint(first.certFile));
    assert.equal(await metric(url, trustingFetch, CONTROL_PLANE_EXPIRY), await expirySeconds(first.certFile));
    // Only a daemon serving TLS has the series: the embedded gateway and the cleartext replica have none.
    assert.equal(await metric(url, trustingFetch, GATEWAY_EXPIRY), undefined);
    assert.equal(await metric(replicaUrl, fetch, GATEWAY_EXPIRY), undefined);
    assert.deepEqual(await chat(`${replicaUrl}/openai/v1`, fetch, "Before the renewal"), { status: 200, content: DEFAULT_TEXT });

    assert.equal(await metric(url, trustingFetch, CONTROL_PLANE_TLS_LOADED), 1, "start-up loaded them");
    const loadedAtStart = await metric(url, trustingFetch, CONTROL_PLANE_TLS_LOADED_AT);
    await install(live, renewed);
    const line = await reloadAndWait(controlPlane, "TLS certificate reloaded", 1);
    assert.equal(await metric(url, trustingFetch, CONTROL_PLANE_TLS_LOADED), 1);
    assert.ok((await metric(url, trustingFetch, CONTROL_PLANE_TLS_LOADED_AT))! > loadedAtStart!, "the reload's time");
    assert.equal(line.tls_certificate.subject, "CN=weir-renewed");
    assert.equal(await servedCertificate(url), await fingerprint(renewed.certFile));
    assert.equal(await metric(url, trustingFetch, CONTROL_PLANE_EXPIRY), await expirySeconds(renewed.certFile));

    // The replica authorizes and records over the session it opened before the reload.
    assert.deepEqual(await chat(`${replicaUrl}/openai/v1`, fetch, "After the renewal, through a replica"), { status: 200, content: DEFAULT_TEXT });
    assert.deepEqual(await chat(`${url}/api/v2/ai-gateway/openai/v1`, trustingFetch, "After the renewal, embedded"), { status: 200, content: DEFAULT_TEXT });
    assert.equal(controlPlane.child.exitCode, null);
  });

  it("keeps the previous certificate when the new files cannot serve, naming the flag and the file", async () => {
    await copyFile(renewed.keyFile, live.certFile);
    const line = await reloadAndWait(controlPlane, "TLS files not reloaded; the previous certificate is still served", 1);
    assert.equal(line.err, `--tls-cert-file ${live.certFile}: not a PEM certificate (no start line)`);
    assert.equal(await servedCertificate(url), await fingerprint(renewed.certFile));
    assert.equal(await metric(url, trustingFetch, CONTROL_PLANE_TLS_LOADED), 0);
    assert.equal(controlPlane.child.exitCode, null);
  });

  it("drops a client that never begins its TLS handshake after 10 s, on both daemons", { timeout: 30_000 }, async () => {
    const silentFor = async (target: string): Promise<number> => {
      const started = Date.now();
      const socket: Socket = connect({ host: "127.0.0.1", port: Number(new URL(target).port) });
      socket.on("error", () => undefined);
      await new Promise((resolve) => socket.once("close", resolve));
      return Date.now() - started;
    };
    const gatewayWithTls = runWeir(["gateway", "--listen", "127.0.0.1:0", "--log-level", "info", "--tls-cert-file", renewed.certFile, "--tls-key-file", renewed.keyFile], {
      WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
      WEIR_GATEWAY_KEY: stack.gatewayKey.key,
    });
    try {
      const gatewayUrl = await listeningUrl(gatewayWithTls, "gateway listening");
      // Closed by the server (the client never ends it); Node's default would take 120 s.
      const [gatewayMs, controlPlaneMs] = await Promise.all([silentFor(gatewayUrl), silentFor(url)]);
      assert.ok(gatewayMs >= 9_000 && controlPlaneMs >= 9_000, `closed after ${gatewayMs} and ${controlPlaneMs} ms: too early for a handshake timeout`);
    } finally {
      gatewayWithTls.child.kill("SIGTERM");
      await gatewayWithTls.exited;
    }
  });
});
