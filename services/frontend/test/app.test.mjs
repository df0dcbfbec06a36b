import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { DEFAULT_ALERTS_URL, loadAlerts, renderAlerts, renderSummary, start } from "../src/app.js";
import { DEMO_ALERTS } from "../src/demo-data.js";

const now = Date.parse("2024-05-01T12:00:00Z");

function fakeFetch(status, body, seen = []) {
  return async (url, opts) => {
    seen.push({ url, opts });
    return { ok: status >= 200 && status < 300, status, json: async () => body };
  };
}

function fakeDocument(alertsUrl) {
  const nodes = { "#summary": {}, "#alerts": {}, "#notice": {} };
  const meta = alertsUrl === undefined ? null : { getAttribute: () => alertsUrl };
  return {
    nodes,
    querySelector: (sel) => (sel.startsWith("meta") ? meta : nodes[sel]),
  };
}

describe("rendering", () => {
  it("escapes alert content (no XSS through alert titles)", () => {
    const html = renderAlerts([{ id: "<x>", severity: "high", title: "<script>alert(1)</script>", source: "s\"x", timestamp: '"><img>' }], now);
    assert.ok(!html.includes("<script>"));
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert.ok(html.includes("&lt;x&gt;"));
    assert.ok(!html.includes('"><img>'));
  });
  it("renders one section per non-empty severity, most severe first", () => {
    const html = renderAlerts(DEMO_ALERTS, now);
    const order = [...html.matchAll(/<h2>(\w+) \((\d+)\)<\/h2>/g)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(order, ["Critical:1", "High:1", "Medium:1", "Low:1", "Info:1"]);
    assert.ok(html.includes("12.4"));
    assert.ok(html.includes(">9h ago<"));
  });
  it("renders an empty state", () => {
    assert.match(renderAlerts([]), /Nothing to triage/);
  });
  it("summarises counts and the headline", () => {
    const html = renderSummary([{ severity: "high" }, { severity: "high" }, { severity: "low" }]);
    assert.match(html, /Highest open severity: High/);
    assert.match(html, /sev-high"><span>High<\/span> <strong>2<\/strong>/);
    assert.match(html, /sev-critical"><span>Critical<\/span> <strong>0<\/strong>/);
    assert.match(renderSummary([]), /No open alerts/);
  });
});

describe("loading", () => {
  it("accepts a bare list or {alerts} and drops non-objects", async () => {
    const seen = [];
    assert.deepEqual(await loadAlerts(fakeFetch(200, [{ id: 1 }, null, 3], seen)), [{ id: 1 }]);
    assert.equal(seen[0].url, DEFAULT_ALERTS_URL);
    assert.equal(seen[0].opts.headers.Accept, "application/json");
    assert.deepEqual(await loadAlerts(fakeFetch(200, { alerts: [{ id: 2 }] }), "/x"), [{ id: 2 }]);
  });
  it("rejects HTTP errors and wrong shapes", async () => {
    await assert.rejects(loadAlerts(fakeFetch(503, {})), /HTTP 503/);
    await assert.rejects(loadAlerts(fakeFetch(200, { items: [] })), /expected a list/);
    await assert.rejects(loadAlerts(fakeFetch(200, null)), /expected a list/);
  });
});

describe("start", () => {
  it("renders loaded alerts using the URL from the page", async () => {
    const doc = fakeDocument("/gw/alerts");
    const seen = [];
    const { alerts, notice } = await start(doc, fakeFetch(200, [{ id: "Z", severity: "critical", title: "t" }], seen), now);
    assert.equal(seen[0].url, "/gw/alerts");
    assert.equal(alerts.length, 1);
    assert.equal(notice, "");
    assert.match(doc.nodes["#alerts"].innerHTML, /Critical \(1\)/);
    assert.match(doc.nodes["#summary"].innerHTML, /Highest open severity: Critical/);
  });
  it("falls back to demo data and says so", async () => {
    const doc = fakeDocument(undefined);
    const failing = async () => {
      throw new Error("network down");
    };
    const { alerts } = await start(doc, failing, now);
    assert.equal(alerts, DEMO_ALERTS);
    assert.equal(doc.nodes["#notice"].textContent, "Showing demo data: network down");
  });
});
