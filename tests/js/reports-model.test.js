// reports-model.js: the figures shown are the API's, with shares that add up.
import assert from "node:assert/strict";
import { test } from "node:test";

import { headline, lastDays, tables } from "../../safecall/web/reports-model.js";

const summary = {
  from: "2026-11-01", to: "2026-11-30", service_lines: ["women"],
  headline: { complaints_received: 4, resolved: 1, resolved_by_reconciliation: 1, firs_registered: 2,
              firs_by_offence: { harassment: 2 }, under_investigation: 1, fast_tracked: 0 },
  cases: { total: 4, by_status: { new: 0, fir_registered: 2, under_investigation: 1, closed: 1 },
           by_category: { harassment: 3, uncategorised: 1 }, by_service_line: { women: 4 },
           by_district: { lahore: 3, unknown: 1 } },
  sessions: { total: 5, by_channel: { chat: 3, phone: 2 }, by_disposition: { answered: 5 },
              average_wait_seconds: 12.5 },
};

test("the headline figures in the province's order", () => {
  assert.deepEqual(headline(summary).map((f) => [f.key, f.value]), [
    ["complaints_received", 4], ["resolved", 1], ["resolved_by_reconciliation", 1],
    ["firs_registered", 2], ["under_investigation", 1], ["fast_tracked", 0],
  ]);
});

test("each table lists every value with its count, largest first, shares adding to one", () => {
  const byDimension = Object.fromEntries(tables(summary).map((t) => [t.dimension, t]));
  const status = byDimension.status;
  assert.deepEqual(status.rows.map((r) => [r.value, r.count]), [
    ["fir_registered", 2], ["closed", 1], ["under_investigation", 1], ["new", 0]]);
  assert.equal(status.total, 4);
  for (const table of Object.values(byDimension)) {
    const shares = table.rows.reduce((sum, r) => sum + r.share, 0);
    assert.ok(table.total === 0 || Math.abs(shares - 1) < 1e-9, table.dimension);
  }
  assert.deepEqual(byDimension.firs_by_offence.rows, [{ value: "harassment", count: 2, share: 1 }]);
});

test("the last thirty days end today (UTC)", () => {
  assert.deepEqual(lastDays(new Date("2026-12-07T23:30:00Z"), 30), { from: "2026-11-08", to: "2026-12-07" });
});
