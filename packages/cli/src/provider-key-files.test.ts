// Central provider keys as `weir gateway` reads them at start-up and on SIGHUP: inline or from a
// file, several separated by commas or lines, and every way a file can be unusable refused with
// one line naming the flag or the file — also a file of separators only, which used to leave the
// provider without a central key, silently.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliError } from "./cli-error.js";
import { providerKeyFiles, providerKeysFromFlags, readProviderKeyFiles } from "./provider-key-files.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "weir-provider-keys-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function refuses(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => err instanceof CliError && err.message === message, message);
}

describe("provider keys from flags and files", () => {
  it("reads keys inline (comma-separated) and from files (one per line, CRLF too), in order", async () => {
    const anthropic = await file("anthropic", " sk-ant-1\r\nsk-ant-2\r\n\r\n");
    assert.deepEqual(providerKeysFromFlags({ openaiApiKey: "sk-1, sk-2", anthropicApiKeyFile: anthropic }), { openai: ["sk-1", "sk-2"], anthropic: ["sk-ant-1", "sk-ant-2"] });
    assert.deepEqual(providerKeysFromFlags({ openaiApiKey: "" }), { openai: [], anthropic: [] }, "an empty variable is an unset one");
  });

  it("refuses a key given twice or only separators, naming the flag or the file", async () => {
    refuses(() => providerKeysFromFlags({ openaiApiKey: "sk-1,sk-1" }), "--openai-api-key: a key is given twice");
    refuses(() => providerKeysFromFlags({ openaiApiKey: " , ," }), "--openai-api-key: holds no key");
    const twice = await file("twice", "sk-ant-1\nsk-ant-1\n");
    refuses(() => providerKeysFromFlags({ anthropicApiKeyFile: twice }), `--anthropic-api-key-file ${twice}: a key is given twice`);
    const separators = await file("separators", ",\n,\n");
    refuses(() => providerKeysFromFlags({ openaiApiKeyFile: separators }), `--openai-api-key-file ${separators}: holds no key`);
    refuses(() => providerKeysFromFlags({ openaiApiKey: "sk-1", openaiApiKeyFile: separators }), "give the OpenAI key either inline or as a file, not both");
  });

  it("reads again only the providers given as files, all of them before answering", async () => {
    const openai = await file("openai", "sk-new\n");
    const files = providerKeyFiles({ openaiApiKeyFile: openai, anthropicApiKey: "sk-ant-inline" });
    assert.deepEqual(files, [{ provider: "openai", what: "the OpenAI key", file: openai }]);
    assert.deepEqual(readProviderKeyFiles(files), { openai: ["sk-new"] });
    const missing = join(dir, "missing");
    refuses(() => readProviderKeyFiles([...files, { provider: "anthropic", what: "the Anthropic key", file: missing }]), `read the Anthropic key file ${missing}: ENOENT`);
    assert.deepEqual(providerKeyFiles({}), []);
  });
});
