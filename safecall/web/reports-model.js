// The reports page's figures, shaped for the screen from GET /api/reports/summary:
// headline figures and one table per dimension with each value's share. Pure (node --test).

const HEADLINE = [
  ["complaints_received", "Complaints received"], ["resolved", "Resolved"],
  ["resolved_by_reconciliation", "of which by reconciliation"],
  ["firs_registered", "FIRs registered"], ["under_investigation", "Under investigation"],
  ["fast_tracked", "Fast-tracked"],
];

/** [{key, label, value}] in the order the province publishes them. */
export function headline(summary) {
  return HEADLINE.map(([key, label]) => ({ key, label, value: summary.headline[key] }));
}

/** Each dimension's table: {dimension, title, rows: [{value, count, share}]} (share 0..1). */
export function tables(summary) {
  const sets = [
    ["firs_by_offence", "FIRs by offence", summary.headline.firs_by_offence],
    ["status", "Cases by status now", summary.cases.by_status],
    ["category", "Cases by category", summary.cases.by_category],
    ["service_line", "Cases by line", summary.cases.by_service_line],
    ["district", "Cases by district", summary.cases.by_district],
    ["session_channel", "Contacts by channel", summary.sessions.by_channel],
    ["session_disposition", "Contacts by how they ended", summary.sessions.by_disposition],
  ];
  return sets.map(([dimension, title, counts]) => {
    const entries = Object.entries(counts || {});
    const total = entries.reduce((sum, [, n]) => sum + n, 0);
    const rows = entries
      .map(([value, count]) => ({ value, count, share: total ? count / total : 0 }))
      .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
    return { dimension, title, total, rows };
  });
}

/** The last `days` days up to `today` (a Date), as YYYY-MM-DD strings in UTC. */
export function lastDays(today, days) {
  const to = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
  const from = new Date(to);
  from.setUTCDate(from.getUTCDate() - (days - 1));
  const day = (d) => d.toISOString().slice(0, 10);
  return { from: day(from), to: day(to) };
}
