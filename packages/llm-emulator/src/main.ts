#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createLlmEmulator } from './emulator.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    // 0 disables recording (benchmarks).
    'max-recorded': { type: 'string', default: '10000' },
  },
  strict: true,
});

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
