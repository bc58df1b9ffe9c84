// Archive: what retention-archive has put in S3 (days, objects, bytes), the job running now, quarantined days
// with their recovery step, its last and next run, its errors.

import {api} from "../api.js";
import {bytes, card, errorBox, facts, fill, h, number, panel, table, when} from "../dom.js";

export const SETTING_LABELS = {enabled: "Archiving", endpoint: "S3 endpoint", bucket: "Bucket", region: "Region",
  prefix: "Key prefix", format: "Format", raw_retention_days: "Raw events kept (days)",
  summary_retention_days: "Summaries kept (days)", schedule: "Schedule (UTC cron)", max_days_per_run: "Days per run",
  export_batch: "Export batch (events)", max_attempts: "S3 attempts", part_size_mb: "Upload part size (MB)",
  credentials: "Credentials"};

export async function render(root, ctx) {
  const body = h("div");
  root.append(h("h1", {}, "Archive"), body);
  let s;
  try {
    s = await api("retention-archive/status");
  } catch (err) {
    fill(body, errorBox(err, "Archive status"));
    return;
  }
  if (!ctx.current()) return;
  const archive = s.archive || {};
  const last = s.last_run || null;
  const running = s.running || null;
  const progress = (running && running.progress) || {};
  fill(body,
    (s.errors || []).map((e) => h("div.error", {role: "alert"}, e)),
    running ? h("p", {id: "archive-running"}, `${running.action} running since `, when(running.since),
      ` on ${running.holder}: ${progress.day || "planning"} (${progress.days_done || 0}/` +
      `${progress.days_total || 0} days, ${number(progress.day_events || 0)} events of the current day)`) : null,
    (s.quarantined || []).length ? panel("Quarantined days", table([
      {label: "Day", key: "day"},
      {label: "Reason", key: "reason"},
      {label: "Recovery", render: (q) => (q.recovery || {}).cli || ""},
    ], s.quarantined)) : null,
    h("div.cards", {},
      card("Archived days", number(archive.days), {id: "archived-days"}),
      card("Objects", number(archive.objects)),
      card("Size", bytes(archive.bytes)),
      card("First day", archive.first_day || "-"),
      card("Last day", archive.last_day || "-"),
      card("State", s.state || "-"),
      card("Next run", when(s.next_run))),
    panel("Last run", last ? h("div", {},
      h("p", {}, `${last.ok ? "succeeded" : "failed"} · started `, when(last.started_at), " · finished ",
        when(last.finished_at)),
      last.error ? h("div.error", {}, last.error) : null,
      (last.days || []).length ? table([
        {label: "Day", key: "day"},
        {label: "Outcome", key: "outcome"},
        {label: "Events", render: (d) => number(d.rows), num: true},
        {label: "Size", render: (d) => bytes(d.bytes), num: true},
      ], last.days) : null) : h("p.empty", {}, "No run yet.")),
    panel("Settings", facts(s.config || {}, SETTING_LABELS)));
}
