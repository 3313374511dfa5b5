#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { CONTROL_HEADERS, DEFAULT_EVENTS, MAX_EVENTS } from './controls.js';
import { createLlmEmulator } from './emulator.js';

const USAGE = `Usage: llm-emulator [--host 127.0.0.1] [--port 0] [--max-recorded 10000]

A stand-in for the OpenAI (/openai/v1/chat/completions, /openai/v1/responses, /openai/v1/models)
and Anthropic (/anthropic/v1/messages, .../count_tokens, /anthropic/v1/models) APIs with canned answers, for tests
and benchmarks. --port 0 takes any free port; --max-recorded 0 turns the request log off.

Per request, headers (or a model suffix such as "gpt-4o@events=5,delay=100") script the answer:
  ${CONTROL_HEADERS.ttfbMs}: N            wait N ms before the response head
  ${CONTROL_HEADERS.events}: N             stream N text deltas (default ${DEFAULT_EVENTS}, at most ${MAX_EVENTS})
  ${CONTROL_HEADERS.eventDelayMs}: N     N ms between stream events
  ${CONTROL_HEADERS.status}: N             answer HTTP status N with the provider's error body
  ${CONTROL_HEADERS.disconnectAfter}: N   cut the connection after N events (blocking: at once)
  ${CONTROL_HEADERS.usage}: input=N,output=N,cacheRead=N,cacheWrite=N,reasoning=N
Recorded requests: GET /_emulator/requests; health: GET /_emulator/health.
`;

let values: { host: string; port: string; 'max-recorded': string; help?: boolean };
try {
  values = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      // 0 disables recording (benchmarks).
      'max-recorded': { type: 'string', default: '10000' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values as typeof values;
} catch (error) {
  process.stderr.write(`llm-emulator: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`llm-emulator: invalid --port ${values.port}\n`);
  process.exit(2);
}

const maxRecorded = Number(values['max-recorded']);
if (!Number.isInteger(maxRecorded) || maxRecorded < 0) {
  process.stderr.write(`llm-emulator: invalid --max-recorded ${values['max-recorded']}\n`);
  process.exit(2);
}

const emulator = createLlmEmulator({ host: values.host, port, record: maxRecorded > 0, maxRecorded });
// Handlers go in before start() so an early signal still exits cleanly.
const stop = (): void => {
  emulator.shutdown().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`llm-emulator: shutdown failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

await emulator.start();
process.stdout.write(
  `llm-emulator listening on ${emulator.url} (openai: ${emulator.openaiBaseUrl}, anthropic: ${emulator.anthropicBaseUrl})\n`,
);
