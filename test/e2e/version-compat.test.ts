// A gateway built to speak an API version the control plane cannot serve exits non-zero with
// one line naming both versions — before serving anything. A bad gateway key likewise.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { API_VERSION } from "@weir/proto";
import { eventually, freePort, runWeir, startStack, type Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 0 });
});
after(async () => {
  await stack?.stop();
});

async function gatewayExit(args: string[], key = stack.gatewayKey.key): Promise<{ code: number | null; output: string }> {
  const proc = runWeir(["gateway", "--listen", `127.0.0.1:${await freePort()}`, ...args], {
    WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
    WEIR_GATEWAY_KEY: key,
    WEIR_OPENAI_BASE_URL: stack.emulator.openaiBaseUrl,
    WEIR_ANTHROPIC_BASE_URL: stack.emulator.anthropicBaseUrl,
  });
  const { code } = await proc.exited;
  return { code, output: proc.output() };
}

describe("incompatible gateways", () => {
  const cases = [
    { name: "a newer minor", version: "1.9" },
    { name: "a newer major", version: "2.0" },
  ];
  for (const c of cases) {
    it(`exits 1 naming both versions for ${c.name} (${c.version})`, async () => {
      const { code, output } = await gatewayExit(["--api-version", c.version]);
      assert.equal(code, 1, output);
      const line = output.split("\n").find((l) => l.startsWith("weir: "));
      assert.ok(line, output);
      assert.ok(line.includes(`"${c.version}"`) || line.includes(c.version), line);
      assert.ok(line.includes(API_VERSION), line);
    });
  }

  it("exits 1 for an unparsable version, without contacting the control plane", async () => {
    const { code, output } = await gatewayExit(["--api-version", "1.x"]);
    assert.equal(code, 1, output);
    assert.match(output, /^weir: .*"1\.x"/m);
  });

  it("exits 1 naming the reason for an unknown gateway key", async () => {
    const { code, output } = await gatewayExit([], "wgk_" + "x".repeat(39));
    assert.equal(code, 1, output);
    assert.match(output, /^weir: .*AI Gateway key invalid\./m);
    assert.ok(!output.includes("x".repeat(39)), "the key must not be printed");
  });

  it("the current version is accepted, and SIGTERM stops the replica with exit 0", async () => {
    const port = await freePort();
    const proc = runWeir(["gateway", "--listen", `127.0.0.1:${port}`, "--api-version", API_VERSION], {
      WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
      WEIR_GATEWAY_KEY: stack.gatewayKey.key,
    });
    try {
      await eventually("the replica to be ready", async () => {
        if (proc.child.exitCode !== null) throw new Error(proc.output());
        return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok || undefined;
      });
    } finally {
      proc.child.kill("SIGTERM");
      assert.equal((await proc.exited).code, 0, proc.output());
    }
  });
});
