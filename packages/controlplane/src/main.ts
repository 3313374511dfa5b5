#!/usr/bin/env node
// Entry point until the `weir` CLI exists: `node packages/controlplane/dist/main.js`.
// Configuration from the environment (WEIR_LISTEN, DATABASE_URL, WEIR_DATA_DIR,
// WEIR_TLS_CERT_FILE, WEIR_TLS_KEY_FILE, WEIR_DATABASE_WAIT seconds); JSON logs on stdout; SIGINT/SIGTERM shut down
// cleanly (exit 0); a start-up failure exits 1 with a one-line message on stderr.
import pino from "pino";
import { createControlPlane, type ControlPlane } from "./control-plane.js";
import { controlPlaneOptionsFromEnv, oneLineError } from "./control-plane-env.js";

const logger = pino({ name: "weir-controlplane" });
let controlPlane: ControlPlane | undefined;

async function stop(signal: NodeJS.Signals): Promise<void> {
  logger.info({ signal }, "shutting down");
  try {
    await controlPlane?.shutdown();
    logger.flush();
    process.exit(0);
  } catch (err) {
    logger.error({ err }, "shutdown failed");
    logger.flush();
    process.exit(1);
  }
}

// Handlers go in before start() so an early signal still shuts down cleanly; `once`, so a
// second signal falls back to Node's default and ends the process at once.
process.once("SIGINT", (s) => void stop(s));
process.once("SIGTERM", (s) => void stop(s));

try {
  controlPlane = createControlPlane(controlPlaneOptionsFromEnv(process.env, logger));
  await controlPlane.start();
} catch (err) {
  const message = oneLineError(err);
  logger.fatal({ err }, "control plane failed to start");
  logger.flush();
  process.stderr.write(`weir control plane: ${message}\n`);
  await controlPlane?.shutdown().catch(() => {});
  process.exit(1);
}
