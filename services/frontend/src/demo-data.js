// Alerts shown when the alerts API is unreachable (local development, demos).
export const DEMO_ALERTS = Object.freeze([
  { id: "A-1001", severity: "critical", title: "Impossible travel: alice logged in from DE then KP within 20m", source: "behavioral-analysis", score: 12.4, timestamp: "2024-05-01T02:41:00Z" },
  { id: "A-1002", severity: "high", title: "5.2 GiB uploaded to an unknown host by build-runner-7", source: "behavioral-analysis", score: 7.9, timestamp: "2024-05-01T02:10:00Z" },
  { id: "A-1003", severity: "medium", title: "12 failed logins for svc-backup", source: "auth-service", score: 4.1, timestamp: "2024-05-01T01:55:00Z" },
  { id: "A-1004", severity: "low", title: "Token issued with an unusual role set", source: "auth-service", score: 3.2, timestamp: "2024-04-30T22:00:00Z" },
  { id: "A-1005", severity: "info", title: "New device registered for bob", source: "api-gateway", timestamp: "2024-04-30T18:30:00Z" },
]);
