// Alert severities: normalising, ranking, sorting and grouping.

/** Severities from most to least severe. */
export const SEVERITIES = Object.freeze(["critical", "high", "medium", "low", "info"]);

const ALIASES = new Map([
  ["crit", "critical"],
  ["fatal", "critical"],
  ["emergency", "critical"],
  ["error", "high"],
  ["warning", "medium"],
  ["warn", "medium"],
  ["moderate", "medium"],
  ["notice", "low"],
  ["informational", "info"],
  ["information", "info"],
  ["debug", "info"],
]);

/**
 * Map a feed's severity label to one of SEVERITIES. Numeric CVSS-style
 * scores (0-10) are banded as in CVSS v3. Unknown labels become "info" so
 * a malformed alert is never ranked above real ones.
 */
export function normalizeSeverity(value) {
  if (typeof value === "number" && Number.isFinite(value)) {
    if (value >= 9) return "critical";
    if (value >= 7) return "high";
    if (value >= 4) return "medium";
    if (value > 0) return "low";
    return "info";
  }
  if (typeof value !== "string") return "info";
  const key = value.trim().toLowerCase();
  if (SEVERITIES.includes(key)) return key;
  return ALIASES.get(key) ?? "info";
}

/** 0 for critical ... 4 for info. */
export function severityRank(value) {
  return SEVERITIES.indexOf(normalizeSeverity(value));
}

function timeOf(alert) {
  const t = Date.parse(alert.timestamp ?? "");
  return Number.isNaN(t) ? -Infinity : t;
}

/** Most severe first, then newest first, then by id for a stable order. */
export function compareAlerts(a, b) {
  return (
    severityRank(a.severity) - severityRank(b.severity) ||
    timeOf(b) - timeOf(a) ||
    String(a.id ?? "").localeCompare(String(b.id ?? ""))
  );
}

/** A sorted copy; the input is not modified. */
export function sortAlerts(alerts) {
  return [...alerts].sort(compareAlerts);
}

/** { critical: [...], high: [...], ... } with every severity present, each list sorted. */
export function groupBySeverity(alerts) {
  const groups = Object.fromEntries(SEVERITIES.map((s) => [s, []]));
  for (const alert of sortAlerts(alerts)) {
    groups[normalizeSeverity(alert.severity)].push(alert);
  }
  return groups;
}

/** { critical: n, high: n, ... } */
export function countBySeverity(alerts) {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  for (const alert of alerts) counts[normalizeSeverity(alert.severity)] += 1;
  return counts;
}

/** The most severe level present, or null for no alerts. */
export function highestSeverity(alerts) {
  let best = null;
  for (const alert of alerts) {
    const s = normalizeSeverity(alert.severity);
    if (best === null || severityRank(s) < severityRank(best)) best = s;
  }
  return best;
}

/** Alerts at `min` severity or worse. */
export function atLeast(alerts, min) {
  const limit = severityRank(min);
  return alerts.filter((a) => severityRank(a.severity) <= limit);
}
