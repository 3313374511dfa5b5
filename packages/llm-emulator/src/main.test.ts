import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// Runs the entry point as its own process: from src via tsx, or the compiled file from dist.
const runningFromSource = import.meta.url.endsWith('.ts');
const entry = fileURLToPath(new URL(runningFromSource ? './main.ts' : './main.js', import.meta.url));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`main prints one line, serves, and exits 0 on ${signal}`, async () => {
    const args = runningFromSource ? ['--import', 'tsx', entry, '--port', '0'] : [entry, '--port', '0'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('\n')) resolve(stdout);
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
    });
    const match = /^llm-emulator listening on (http:\/\/127\.0\.0\.1:\d+) \(openai: (\S+), anthropic: (\S+)\)\n$/.exec(line);
    assert.ok(match, `unexpected output: ${JSON.stringify(line)}`);
    const [, url, openaiUrl, anthropicUrl] = match;
    assert.equal(openaiUrl, `${url}/openai/v1`);
    assert.equal(anthropicUrl, `${url}/anthropic`);

    const res = await fetch(`${openaiUrl}/models`, { headers: { authorization: 'Bearer k' } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();

    const exited = once(child, 'exit');
    child.kill(signal);
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    assert.equal(stdout, line, 'nothing else is printed');
  });
}

test('main --help prints the usage and the control headers; an unknown option is one message and exit 2, not a stack', async () => {
  const run = async (arg: string): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const args = runningFromSource ? ['--import', 'tsx', entry, arg] : [entry, arg];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stdout, stderr };
  };
  const help = await run('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: llm-emulator /);
  for (const header of ['x-emulator-ttfb-ms', 'x-emulator-events', 'x-emulator-event-delay-ms', 'x-emulator-status', 'x-emulator-disconnect-after', 'x-emulator-usage']) {
    assert.ok(help.stdout.includes(header), header);
  }
  const bad = await run('--bogus');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^llm-emulator: Unknown option '--bogus'/);
  assert.ok(!bad.stderr.includes('    at '), 'no stack');
});
