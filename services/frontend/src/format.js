// Display formatting for the dashboard. Pure functions, no DOM.

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 -> "1.5 KiB"; whole bytes below 1 KiB. */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return "-";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${value} B`;
  const text = value >= 100 ? value.toFixed(0) : value.toFixed(1);
  return `${text} ${UNITS[unit]}`;
}

const STEPS = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
];

/** "just now", "5m ago", "3h ago", "2d ago"; future times read "in 5m". */
export function formatRelativeTime(timestamp, now = Date.now()) {
  const t = typeof timestamp === "number" ? timestamp : Date.parse(timestamp ?? "");
  if (!Number.isFinite(t)) return "unknown";
  const diff = now - t;
  const abs = Math.abs(diff);
  if (abs < 60_000) return "just now";
  // abs >= one minute, so some step always matches
  const [unit, ms] = STEPS.find(([, size]) => abs >= size);
  const n = Math.floor(abs / ms);
  return diff >= 0 ? `${n}${unit} ago` : `in ${n}${unit}`;
}

/** Anomaly scores with one decimal; "-" when missing. */
export function formatScore(score) {
  return Number.isFinite(score) ? score.toFixed(1) : "-";
}

/** "critical" -> "Critical". */
export function capitalize(word) {
  const s = String(word ?? "");
  return s.charAt(0).toUpperCase() + s.slice(1);
}
