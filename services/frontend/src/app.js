// Dashboard entry point: loads alerts and renders them grouped by severity.
// Rendering functions return HTML strings so they can be tested without a DOM.

import { SEVERITIES, countBySeverity, groupBySeverity, highestSeverity } from "./severity.js";
import { capitalize, escapeHtml, formatRelativeTime, formatScore } from "./format.js";
import { DEMO_ALERTS } from "./demo-data.js";

export const DEFAULT_ALERTS_URL = "/api/alerts";

/** Severity badges with counts, e.g. "Critical 2". */
export function renderSummary(alerts) {
  const counts = countBySeverity(alerts);
  const top = highestSeverity(alerts);
  const badges = SEVERITIES.map(
    (s) => `<li class="badge sev-${s}"><span>${capitalize(s)}</span> <strong>${counts[s]}</strong></li>`,
  ).join("");
  const headline = top === null ? "No open alerts" : `Highest open severity: ${capitalize(top)}`;
  return `<p class="headline">${escapeHtml(headline)}</p><ul class="badges">${badges}</ul>`;
}

/** One section per non-empty severity, most severe first. */
export function renderAlerts(alerts, now = Date.now()) {
  const groups = groupBySeverity(alerts);
  const sections = SEVERITIES.filter((s) => groups[s].length > 0).map((s) => {
    const rows = groups[s]
      .map(
        (a) =>
          `<tr><td class="id">${escapeHtml(a.id)}</td>` +
          `<td>${escapeHtml(a.title)}</td>` +
          `<td>${escapeHtml(a.source)}</td>` +
          `<td class="num">${formatScore(a.score)}</td>` +
          `<td><time datetime="${escapeHtml(a.timestamp)}">${formatRelativeTime(a.timestamp, now)}</time></td></tr>`,
      )
      .join("");
    return (
      `<section class="group sev-${s}"><h2>${capitalize(s)} (${groups[s].length})</h2>` +
      `<table><thead><tr><th>ID</th><th>Alert</th><th>Source</th><th>Score</th><th>Seen</th></tr></thead>` +
      `<tbody>${rows}</tbody></table></section>`
    );
  });
  return sections.length > 0 ? sections.join("") : `<p class="empty">Nothing to triage.</p>`;
}

/** Fetch alerts; accepts a bare array or {"alerts": [...]}. */
export async function loadAlerts(fetchFn, url = DEFAULT_ALERTS_URL) {
  const resp = await fetchFn(url, { headers: { Accept: "application/json" } });
  if (!resp.ok) throw new Error(`GET ${url}: HTTP ${resp.status}`);
  const body = await resp.json();
  const alerts = Array.isArray(body) ? body : body?.alerts;
  if (!Array.isArray(alerts)) throw new Error(`GET ${url}: expected a list of alerts`);
  return alerts.filter((a) => a !== null && typeof a === "object");
}

/** Render into a document; falls back to demo data if loading fails. */
export async function start(doc, fetchFn, now = Date.now()) {
  const url = doc.querySelector('meta[name="alerts-url"]')?.getAttribute("content") || DEFAULT_ALERTS_URL;
  let alerts;
  let notice = "";
  try {
    alerts = await loadAlerts(fetchFn, url);
  } catch (err) {
    alerts = DEMO_ALERTS;
    notice = `Showing demo data: ${err.message}`;
  }
  doc.querySelector("#summary").innerHTML = renderSummary(alerts);
  doc.querySelector("#alerts").innerHTML = renderAlerts(alerts, now);
  doc.querySelector("#notice").textContent = notice;
  return { alerts, notice };
}

if (typeof document !== "undefined" && typeof fetch === "function") {
  start(document, fetch.bind(globalThis));
}
