import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { capitalize, escapeHtml, formatBytes, formatRelativeTime, formatScore } from "../src/format.js";

describe("escapeHtml", () => {
  it("escapes every HTML-significant character", () => {
    assert.equal(escapeHtml(`<img src=x onerror="a('b')">&`), "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
  });
  it("stringifies non-strings and treats null as empty", () => {
    assert.equal(escapeHtml(42), "42");
    assert.equal(escapeHtml(null), "");
    assert.equal(escapeHtml(undefined), "");
  });
});

describe("formatBytes", () => {
  const cases = [
    [0, "0 B"], [1023, "1023 B"], [1024, "1.0 KiB"], [1536, "1.5 KiB"], [1048576, "1.0 MiB"],
    [150 * 1024 * 1024, "150 MiB"], [5.2 * 1024 ** 3, "5.2 GiB"], [2 * 1024 ** 6, "2048 PiB"],
    [-1, "-"], [Number.NaN, "-"], [Infinity, "-"],
  ];
  for (const [n, want] of cases) it(`${n} -> ${want}`, () => assert.equal(formatBytes(n), want));
});

describe("formatRelativeTime", () => {
  const now = Date.parse("2024-05-01T12:00:00Z");
  const cases = [
    ["2024-05-01T11:59:30Z", "just now"],
    ["2024-05-01T11:59:00Z", "1m ago"],
    ["2024-05-01T11:05:00Z", "55m ago"],
    ["2024-05-01T09:00:00Z", "3h ago"],
    ["2024-04-29T11:00:00Z", "2d ago"],
    ["2024-05-01T12:05:00Z", "in 5m"],
    [now - 7_200_000, "2h ago"],
    ["garbage", "unknown"],
    [undefined, "unknown"],
  ];
  for (const [ts, want] of cases) it(`${ts} -> ${want}`, () => assert.equal(formatRelativeTime(ts, now), want));
  it("defaults to the current time", () => assert.equal(formatRelativeTime(Date.now()), "just now"));
});

describe("small helpers", () => {
  it("formats scores", () => {
    assert.equal(formatScore(4.25), "4.3");
    assert.equal(formatScore(12), "12.0");
    assert.equal(formatScore(undefined), "-");
  });
  it("capitalizes", () => {
    assert.equal(capitalize("critical"), "Critical");
    assert.equal(capitalize(""), "");
    assert.equal(capitalize(null), "");
  });
});
