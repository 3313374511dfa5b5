// NO_PROXY as Go's net/http reads it (the reference's HTTP client), proxy URLs checked and shown
// without credentials, and the environment read upper case first. Through a gateway and a real
// proxy: gateway-upstream-proxy.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UpstreamProxyError, noProxyMatcher, proxySettingsFromEnv, proxyUrl, redactedProxyUrl } from "./upstream-proxy.js";

describe("noProxyMatcher", () => {
  const cases: { noProxy: string | undefined; direct: [string, number][]; proxied: [string, number][] }[] = [
    {
      noProxy: undefined,
      direct: [["localhost", 80], ["api.localhost", 80], ["127.0.0.1", 80], ["127.8.9.10", 443], ["[::1]", 443], ["[::ffff:127.0.0.1]", 443]],
      proxied: [["api.openai.com", 443], ["10.0.0.1", 80], ["[::2]", 443], ["localhost.example", 80]],
    },
    {
      noProxy: "example.com, .internal  10.0.0.0/8,192.168.1.7,[fd00::]/8,2001:db8::/32",
      direct: [["example.com", 443], ["api.example.com", 443], ["db.internal", 5432], ["10.200.3.4", 80], ["192.168.1.7", 443], ["[fd12::1]", 443], ["[2001:db8:0:1::5]", 443]],
      proxied: [["internal", 80], ["notexample.com", 443], ["11.0.0.1", 80], ["192.168.1.8", 443], ["[fe80::1]", 443], ["api.openai.com", 443]],
    },
    {
      noProxy: "*.corp.example:8443,10.1.2.3:80",
      direct: [["llm.corp.example", 8443], ["10.1.2.3", 80]],
      proxied: [["corp.example", 8443], ["llm.corp.example", 443], ["10.1.2.3", 443]],
    },
    { noProxy: "*", direct: [["api.openai.com", 443], ["10.0.0.1", 80]], proxied: [] },
    { noProxy: "localhost, *", direct: [["api.openai.com", 443]], proxied: [] },
    // An address entry does not match a name, nor a name entry an address (nothing is resolved).
    { noProxy: "127.0.0.2,1.2.3.4", direct: [], proxied: [["one.two.three.four", 443], ["[::ffff:1.2.3.5]", 443]] },
    { noProxy: "[::ffff:1.2.3.4]", direct: [["[::ffff:1.2.3.4]", 443]], proxied: [["1.2.3.4", 443]] },
  ];
  for (const c of cases) {
    it(`NO_PROXY=${JSON.stringify(c.noProxy)}`, () => {
      const direct = noProxyMatcher(c.noProxy);
      for (const [host, port] of c.direct) assert.equal(direct(host, port), true, `${host}:${port} direct`);
      for (const [host, port] of c.proxied) assert.equal(direct(host, port), false, `${host}:${port} proxied`);
    });
  }
});

describe("proxyUrl and redactedProxyUrl", () => {
  it("takes http(s) URLs and a bare host:port as http://", () => {
    assert.equal(proxyUrl("HTTPS_PROXY", "https://proxy.internal:3129").href, "https://proxy.internal:3129/");
    assert.equal(proxyUrl("HTTPS_PROXY", " proxy.internal:3128 ").href, "http://proxy.internal:3128/");
    assert.equal(proxyUrl("HTTPS_PROXY", "http://u:p%40ss@proxy.internal:3128/").password, "p%40ss");
  });
  it("refuses other schemes, no host, and more than an address, without repeating credentials", () => {
    assert.throws(() => proxyUrl("HTTPS_PROXY", "socks5://u:secret@proxy:1080"), (err: Error) => err instanceof UpstreamProxyError);
    assert.throws(() => proxyUrl("HTTPS_PROXY", "socks5://u:secret@proxy:1080"), { message: "HTTPS_PROXY must be an http:// or https:// URL, not socks5://…" });
    assert.throws(() => proxyUrl("HTTPS_PROXY", "http://u:secret@proxy:3128/x?token=secret"), {
      message: "HTTPS_PROXY must be the proxy's address alone (scheme, host, port), without a path or query",
    });
    assert.throws(() => proxyUrl("HTTP_PROXY", "http://:3128"), { message: "HTTP_PROXY is not a URL: give it as http://host:port" });
  });
  it("shows an address without its credentials", () => {
    assert.equal(redactedProxyUrl(new URL("http://user:secret@proxy.internal:3128")), "http://***@proxy.internal:3128");
    assert.equal(redactedProxyUrl(new URL("https://proxy.internal")), "https://proxy.internal");
  });
});

describe("proxySettingsFromEnv", () => {
  it("reads the upper-case name first, then the lower-case one; empty is unset", () => {
    assert.deepEqual(proxySettingsFromEnv({ HTTPS_PROXY: "http://a:1", https_proxy: "http://b:1", http_proxy: "http://c:1", NO_PROXY: " ", no_proxy: ".internal" }), {
      httpProxy: "http://c:1",
      httpsProxy: "http://a:1",
      noProxy: ".internal",
    });
    assert.deepEqual(proxySettingsFromEnv({}), { httpProxy: undefined, httpsProxy: undefined, noProxy: undefined });
  });
  it("refuses a proxy URL that cannot work, naming the variable it was read from", () => {
    assert.throws(() => proxySettingsFromEnv({ https_proxy: "socks5://proxy:1080" }), { name: "UpstreamProxyError", message: "https_proxy must be an http:// or https:// URL, not socks5://…" });
    assert.throws(() => proxySettingsFromEnv({ HTTP_PROXY: "ftp://proxy", http_proxy: "http://proxy:3128" }), { message: "HTTP_PROXY must be an http:// or https:// URL, not ftp://…" });
  });
});
