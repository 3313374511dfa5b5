// RequestLog: a line carries every context's fields, oldest first, a later context (and the
// line's own fields) overriding an earlier one; contexts never leak into each other; nothing is
// built when the level is off.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RequestLog } from "./request-log.js";
import { captureLogger } from "./test-harness.js";

function parsed(lines: readonly string[]): Record<string, unknown>[] {
  return lines.map((l) => {
    const { level, msg, ...rest } = JSON.parse(l) as Record<string, unknown>;
    delete rest.time;
    delete rest.pid;
    delete rest.hostname;
    return { level, msg, ...rest };
  });
}

describe("RequestLog", () => {
  it("merges the contexts oldest first, and the line's fields last", () => {
    const { logger, lines } = captureLogger();
    const request = new RequestLog(logger, { method: "POST", path: "/openai/v1/chat/completions", stage: "front" });
    const handler = request.with({ route: "/openai/v1/chat/completions", stage: "handler" });
    const interception = handler.with({ interception_id: "i1", stage: "interception" });
    interception.info({ status: 200, stage: "ended" }, "interception ended");
    interception.warn("slow");
    assert.deepEqual(parsed(lines), [
      { level: 30, msg: "interception ended", method: "POST", path: "/openai/v1/chat/completions", stage: "ended", route: "/openai/v1/chat/completions", interception_id: "i1", status: 200 },
      { level: 40, msg: "slow", method: "POST", path: "/openai/v1/chat/completions", stage: "interception", route: "/openai/v1/chat/completions", interception_id: "i1" },
    ]);
    // Key order: oldest context first, so every line of a request starts the same way.
    assert.deepEqual(Object.keys(JSON.parse(lines[0]!)).filter((k) => !["level", "time", "pid", "hostname", "msg"].includes(k)), [
      "method",
      "path",
      "stage",
      "route",
      "interception_id",
      "status",
    ]);
  });

  it("keeps sibling contexts and the parent apart", () => {
    const { logger, lines } = captureLogger();
    const request = new RequestLog(logger, { method: "GET" });
    const a = request.with({ user_id: "a" });
    const b = request.with({ user_id: "b" });
    a.error({ err_code: 1 }, "a failed");
    b.debug("b");
    request.info("plain");
    assert.deepEqual(parsed(lines), [
      { level: 50, msg: "a failed", method: "GET", user_id: "a", err_code: 1 },
      { level: 20, msg: "b", method: "GET", user_id: "b" },
      { level: 30, msg: "plain", method: "GET" },
    ]);
  });

  it("writes and builds nothing below the logger's level", () => {
    const { logger, lines } = captureLogger();
    logger.level = "warn";
    const log = new RequestLog(logger, { method: "GET" }).with({ route: "/x" });
    let read = 0;
    const fields = {
      get status() {
        read += 1;
        return 200;
      },
    };
    log.info(fields, "interception ended");
    log.debug("request finished");
    assert.deepEqual(lines, []);
    assert.equal(read, 0);
    assert.equal(log.isLevelEnabled("info"), false);
    assert.equal(log.isLevelEnabled("warn"), true);
  });
});
