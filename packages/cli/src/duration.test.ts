// Pins the millisecond durations: "ms" and the larger units, a bare number as seconds (as every
// other duration flag reads it), 0 only where 0 turns a setting off, and errors naming the flag;
// and the durations in seconds, which say so when given milliseconds.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CliError } from "./cli-error.js";
import { formatDurationMs, parseDurationMs, parseDurationMsOrZero, parseDurationSeconds, parseDurationSecondsOrZero } from "./duration.js";

const valid: { input: string; want: number }[] = [
  { input: "4ms", want: 4 },
  { input: "1ms", want: 1 },
  { input: "250ms", want: 250 },
  { input: "1000ms", want: 1000 },
  { input: "1s", want: 1000 },
  { input: "5s", want: 5000 },
  { input: "30", want: 30_000 },
  { input: "1m", want: 60_000 },
  { input: "2h", want: 7_200_000 },
  { input: "1d", want: 86_400_000 },
  { input: " 4ms ", want: 4 },
];

const malformed = ["", "ms", "-4ms", "4.5ms", "04ms", "4 ms", "4MS", "4us", "4msec", "1e3ms", "four"];

describe("parseDurationMs", () => {
  for (const c of valid) {
    it(`reads ${JSON.stringify(c.input)} as ${c.want} ms`, () => assert.equal(parseDurationMs("--flag", c.input), c.want));
  }
  for (const input of [...malformed, "0", "0ms", "0s"]) {
    it(`refuses ${JSON.stringify(input)}, naming the flag`, () => {
      assert.throws(
        () => parseDurationMs("--auth-cache-ttl", input),
        (err: unknown) => err instanceof CliError && err.message === `--auth-cache-ttl must be a duration above 0 (e.g. 4ms, 500ms, 5s or 1m), got ${JSON.stringify(input)}`,
      );
    });
  }
});

describe("parseDurationMsOrZero", () => {
  for (const c of [...valid, { input: "0", want: 0 }, { input: "0ms", want: 0 }, { input: "0s", want: 0 }, { input: "00", want: 0 }]) {
    it(`reads ${JSON.stringify(c.input)} as ${c.want} ms`, () => assert.equal(parseDurationMsOrZero("--flag", c.input), c.want));
  }
  for (const input of malformed) {
    it(`refuses ${JSON.stringify(input)}, naming the flag`, () => {
      assert.throws(
        () => parseDurationMsOrZero("--start-budget", input),
        (err: unknown) => err instanceof CliError && err.message === `--start-budget must be 0 or a duration (e.g. 4ms, 500ms, 5s or 1m), got ${JSON.stringify(input)}`,
      );
    });
  }
});

describe("formatDurationMs", () => {
  // What --help shows as a default must read back as the same number.
  for (const [ms, want] of [[4, "4ms"], [1500, "1500ms"], [1000, "1s"], [60_000, "60s"], [0, "0s"]] as const) {
    it(`${ms} ms is ${want}, which reads back as ${ms}`, () => {
      assert.equal(formatDurationMs(ms), want);
      assert.equal(parseDurationMsOrZero("--flag", want), ms);
    });
  }
});

describe("durations in seconds", () => {
  it("read s, m, h and d, a bare number as seconds", () => {
    assert.deepEqual(["3600", "90s", "15m", "12h", "30d"].map((d) => parseDurationSeconds("--lifetime", d)), [3600, 90, 900, 43_200, 2_592_000]);
  });

  it("refuse milliseconds saying the setting is in whole seconds, and anything else as no duration", () => {
    for (const parse of [parseDurationSeconds, parseDurationSecondsOrZero]) {
      assert.throws(
        () => parse("--lifetime", "500ms"),
        (err: unknown) => err instanceof CliError && err.message === '--lifetime is counted in whole seconds: give it in s, m, h or d (e.g. 3600, 90s, 15m, 12h or 30d), not ms; got "500ms"',
      );
    }
    assert.equal(parseDurationSecondsOrZero("--record-retention", "0ms"), 0, "0 is 0 in any unit");
    assert.throws(() => parseDurationSeconds("--lifetime", "1.5h"), (err: unknown) => err instanceof CliError && err.message === '--lifetime must be a duration above 0 (e.g. 3600, 90s, 15m, 12h or 30d), got "1.5h"');
  });
});
