/**
 * The `alert` commands of the admin CLI as an admin runs them (a child
 * process on this file's database): the target's secret shown once and stored
 * sealed, a new tenant's default rules, set / list / remove with their
 * states, and bad input refused naming the flag, with exit 1 and no change.
 */
import { describe, expect, it } from "vitest";
import { cliError, runTidemark } from "../../test/cli.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { pool, transaction } from "../db.ts";
import { secretKeyring } from "../secrets/keyring.ts";
import { open } from "../secrets/secret-box.ts";
import { DEFAULT_ALERT_RULES } from "../schemas/alert.ts";
import { recordRollups } from "../stats/rollups.ts";
import { evaluateAlerts } from "./evaluate.ts";

const rulesOf = async (tenantId: number) =>
  (await pool.query<{ rule: string; above: number }>("SELECT rule, above FROM alert_rules WHERE tenant_id = $1 ORDER BY rule", [tenantId])).rows;

describe("tidemark alert", () => {
  it("target prints the URL and a whsec_ secret once, and stores the secret sealed", async () => {
    const result = await runTidemark({}, "alert", "target", "--url", "http://127.0.0.1:9/alerts");
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([{ url: "http://127.0.0.1:9/alerts", secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/) as string }]);
    const secret = String(result.lines[0]?.secret);
    const [row] = (await pool.query<{ secret: string }>("SELECT secret FROM alert_target")).rows;
    expect(row?.secret).toMatch(/^tmk1:/);
    expect(row?.secret).not.toContain(secret.slice("whsec_".length));
    expect(open(secretKeyring(), "alert-secret", row?.secret ?? "")).toBe(secret);

    const bad = await runTidemark({}, "alert", "target", "--url", "ftp://example.test/x");
    expect(bad.code).toBe(1);
    expect(cliError(bad)).toMatchObject({ code: "validation_failed", message: expect.stringMatching(/^--url: /) as string });
    expect((await pool.query("SELECT url FROM alert_target")).rows).toEqual([{ url: "http://127.0.0.1:9/alerts" }]);
  });

  it("a new tenant has the default rules; set, list (with the firing state) and remove", async () => {
    const tenant = await createTestTenant();
    const listed = await runTidemark({}, "alert", "list", "--tenant", tenant.slug);
    expect(listed.code).toBe(0);
    expect(listed.lines.map(({ rule, above, windowMs, state }) => ({ rule, above, windowMs, state }))).toEqual(
      DEFAULT_ALERT_RULES.map(({ rule, above, windowMs }) => ({ rule, above, windowMs, state: "ok" })),
    );

    const set = await runTidemark({}, "alert", "set", "--tenant", tenant.slug, "--rule", "dead", "--above", "2", "--window-ms", "120000");
    expect(set.code).toBe(0);
    expect(set.lines).toEqual([{ tenant: tenant.slug, rule: "dead", above: 2, windowMs: 120_000, state: "ok", value: null, evaluatedAt: null, since: null }]);

    const now = new Date();
    await transaction((tx) =>
      recordRollups(
        tx,
        Array.from({ length: 3 }, () => ({ tenantId: tenant.id, type: "item.created" as const, outcome: "dead" as const, receivedAt: now, processedAt: now })),
      ),
    );
    await evaluateAlerts({ resolveAfterMs: 0 });
    const firing = (await runTidemark({}, "alert", "list", "--tenant", tenant.slug)).lines.find((line) => line.rule === "dead");
    expect(firing).toMatchObject({ state: "firing", value: 3, since: expect.any(String) as string });

    const removed = await runTidemark({}, "alert", "remove", "--tenant", tenant.slug, "--rule", "dead");
    expect(removed.lines).toEqual([{ tenant: tenant.slug, rule: "dead", removed: true }]);
    expect((await rulesOf(tenant.id)).map((r) => r.rule)).not.toContain("dead");
    const again = await runTidemark({}, "alert", "remove", "--tenant", tenant.slug, "--rule", "dead");
    expect(again.code).toBe(1);
    expect(cliError(again)).toEqual({ code: "not_found", message: `tenant "${tenant.slug}" has no dead rule` });
  });

  it("bad input exits 1 naming the flag and changes nothing; a missing flag exits 2", async () => {
    const tenant = await createTestTenant();
    const before = await rulesOf(tenant.id);
    const cases: [string[], RegExp][] = [
      [["--rule", "latency", "--above", "1"], /^--rule: must be one of oldest-pending-ms, dead/],
      [["--rule", "dead", "--above=-1"], /^--above: must be 0 or more \(got "-1"\)/],
      [["--rule", "dead", "--above", "many"], /^--above: must be a number/],
      [["--rule", "dead", "--above", "1", "--window-ms", "10"], /^--window-ms: must be at least 60000/],
      [["--rule", "oldest-pending-ms", "--above", "1", "--window-ms", "60000"], /^--window-ms: oldest-pending-ms is not measured over a window/],
    ];
    for (const [flags, message] of cases) {
      const result = await runTidemark({}, "alert", "set", "--tenant", tenant.slug, ...flags);
      expect(result.code, flags.join(" ")).toBe(1);
      expect(cliError(result).message).toMatch(message);
    }
    const unknown = await runTidemark({}, "alert", "list", "--tenant", "no-such-tenant");
    expect(cliError(unknown).code).toBe("not_found");
    expect((await runTidemark({}, "alert", "set", "--tenant", tenant.slug, "--rule", "dead")).code).toBe(2);
    expect(await rulesOf(tenant.id)).toEqual(before);
  });
});
