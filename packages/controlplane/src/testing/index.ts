// Test helpers shared by the control plane's tests and the end-to-end suite.
export {
  TEST_SERVER_URL_ENV,
  TEST_TEMPLATE_ENV,
  createDatabase,
  createTemplateDatabase,
  createTestDatabase,
  databaseUrl,
  dropDatabase,
  startTestServer,
} from "./test-database.js";
export type { TestDatabase, TestServer } from "./test-database.js";
export { insertApiKey, insertGatewayKey, insertUser } from "./rpc-fixtures.js";
export type { GatewayKeyFixture } from "./rpc-fixtures.js";
export { captureLogger } from "./capture-logger.js";
export type { CapturedLogger } from "./capture-logger.js";
export { runningLockHolders } from "../db/running-control-plane-lock.js";
export type { RunningLockHolder } from "../db/running-control-plane-lock.js";
