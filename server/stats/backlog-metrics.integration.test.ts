/**
 * /api/metrics as Prometheus reads it: the exposition passes promtool's own
 * check (the tool Prometheus ships; `.ci/run` installs it), the standard
 * process and Node.js metrics keep their standard names, and the backlog
 * gauges have a bounded label set however many tenants there are.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { scrapeMetrics } from "../../test/metrics.ts";
import { event, storeInInbox } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { BUSIEST_TENANTS, OTHER_TENANTS } from "./backlog-metrics.ts";

// On a developer's machine without promtool the check is skipped; CI (.ci/run installs it) never skips it.
const promtool = spawnSync("promtool", ["--version"]).status === 0 || Boolean(process.env.CI);

function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const match of text.matchAll(new RegExp(`^${name}\\{tenant="([^"]+)"\\} (\\S+)$`, "gm"))) found.set(match[1] as string, Number(match[2]));
  return found;
}

describe("/api/metrics", () => {
  it("keeps the standard names of the process and runtime metrics", async () => {
    const text = await scrapeMetrics();
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes"]) {
      expect(text).toMatch(new RegExp(`^${name} `, "m"));
    }
    expect(text).not.toContain("tidemark_process_");
  });

  it("shows the busiest tenants' backlogs by slug and the rest as one 'other'", async () => {
    const tenants = [];
    for (let i = 0; i < BUSIEST_TENANTS + 5; i++) tenants.push(await createTestTenant());
    // Tenant i has i + 1 pending events: the five with the fewest are the rest.
    for (const [i, tenant] of tenants.entries()) {
      await storeInInbox(
        tenant.id,
        Array.from({ length: i + 1 }, (_, n) => event(`e-${n}`, "item.created", `item-${n}`, 1)),
      );
    }
    const pending = samples(await scrapeMetrics(), "tidemark_backlog_pending_events");
    expect(pending.size).toBe(BUSIEST_TENANTS + 1);
    expect(pending.get(tenants.at(-1)?.slug as string)).toBe(BUSIEST_TENANTS + 5);
    expect(pending.get(OTHER_TENANTS)).toBe(1 + 2 + 3 + 4 + 5);
    expect(pending.has(tenants[0]?.slug as string)).toBe(false);
    expect(samples(await scrapeMetrics(), "tidemark_backlog_oldest_pending_age_seconds").size).toBe(BUSIEST_TENANTS + 1);
  });

  it.runIf(promtool)("passes promtool check metrics", async () => {
    const text = await scrapeMetrics();
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe("");
    expect(check.status).toBe(0);
  });
});
