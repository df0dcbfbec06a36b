import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  SEVERITIES,
  atLeast,
  compareAlerts,
  countBySeverity,
  groupBySeverity,
  highestSeverity,
  normalizeSeverity,
  severityRank,
  sortAlerts,
} from "../src/severity.js";

const alerts = [
  { id: "b", severity: "low", timestamp: "2024-05-01T10:00:00Z" },
  { id: "a", severity: "CRITICAL", timestamp: "2024-05-01T09:00:00Z" },
  { id: "c", severity: "warning", timestamp: "2024-05-01T11:00:00Z" },
  { id: "d", severity: "critical", timestamp: "2024-05-01T12:00:00Z" },
  { id: "e", severity: "bogus", timestamp: "2024-05-01T12:00:00Z" },
  { id: "f", severity: 9.8 },
];

describe("normalizeSeverity", () => {
  const cases = [
    ["critical", "critical"], [" High ", "high"], ["crit", "critical"], ["error", "high"],
    ["warn", "medium"], ["Moderate", "medium"], ["notice", "low"], ["informational", "info"],
    ["", "info"], ["unknown", "info"], [null, "info"], [undefined, "info"], [{}, "info"],
    [10, "critical"], [9.0, "critical"], [8.9, "high"], [7, "high"], [6.9, "medium"], [4, "medium"],
    [3.9, "low"], [0.1, "low"], [0, "info"], [-1, "info"], [Number.NaN, "info"],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} -> ${want}`, () => assert.equal(normalizeSeverity(input), want));
  }
  it("ranks most severe lowest", () => {
    assert.deepEqual(SEVERITIES.map(severityRank), [0, 1, 2, 3, 4]);
    assert.ok(severityRank("crit") < severityRank("warning"));
  });
});

describe("sorting", () => {
  it("orders by severity, then newest first, then id", () => {
    assert.deepEqual(sortAlerts(alerts).map((a) => a.id), ["d", "a", "f", "c", "b", "e"]);
  });
  it("does not mutate its input", () => {
    const copy = alerts.map((a) => a.id);
    sortAlerts(alerts);
    assert.deepEqual(alerts.map((a) => a.id), copy);
  });
  it("breaks ties by id and treats bad timestamps as oldest", () => {
    const tie = [
      { id: "z", severity: "high", timestamp: "2024-01-01T00:00:00Z" },
      { id: "y", severity: "high", timestamp: "2024-01-01T00:00:00Z" },
      { id: "x", severity: "high", timestamp: "not a date" },
    ];
    assert.deepEqual(sortAlerts(tie).map((a) => a.id), ["y", "z", "x"]);
    assert.equal(compareAlerts(tie[0], tie[0]), 0);
  });
});

describe("grouping and counting", () => {
  it("groups into every severity in order, each sorted", () => {
    const groups = groupBySeverity(alerts);
    assert.deepEqual(Object.keys(groups), SEVERITIES);
    assert.deepEqual(groups.critical.map((a) => a.id), ["d", "a", "f"]);
    assert.deepEqual(groups.high, []);
    assert.deepEqual(groups.medium.map((a) => a.id), ["c"]);
    assert.deepEqual(groups.info.map((a) => a.id), ["e"]);
  });
  it("counts", () => {
    assert.deepEqual(countBySeverity(alerts), { critical: 3, high: 0, medium: 1, low: 1, info: 1 });
    assert.deepEqual(countBySeverity([]), { critical: 0, high: 0, medium: 0, low: 0, info: 0 });
  });
  it("finds the highest severity", () => {
    assert.equal(highestSeverity(alerts), "critical");
    assert.equal(highestSeverity([{ severity: "low" }, { severity: "warn" }, { severity: "info" }]), "medium");
    assert.equal(highestSeverity([]), null);
  });
  it("filters at or above a minimum", () => {
    assert.deepEqual(atLeast(alerts, "medium").map((a) => a.id), ["a", "c", "d", "f"]);
    assert.equal(atLeast(alerts, "info").length, alerts.length);
  });
});
