/**
 * The alert rules both edges enforce: which rules exist, what their value
 * means, which take a window, their bounds, the defaults a new tenant gets,
 * and the hysteresis that decides when a firing alert resolves. The CLI, the
 * admin procedures and the rules form validate with these schemas, and the
 * evaluator (server/alerts) reads the same constants.
 *
 * Client-safe: imports only zod.
 */
import { z } from "zod";

export const ALERT_RULES = ["oldest-pending-ms", "dead", "refused-percent", "quota-forecast-percent", "source-failing-ms"] as const;
export type AlertRuleName = (typeof ALERT_RULES)[number];

export const ZAlertRuleName = z.enum(ALERT_RULES, { error: `must be one of ${ALERT_RULES.join(", ")}` });

/** What each rule's value is, in words, and whether it is measured over a window. */
export const ALERT_RULE_INFO: Record<AlertRuleName, { label: string; unit: "ms" | "events" | "%"; windowed: boolean; describes: string }> = {
  "oldest-pending-ms": { label: "Oldest pending event", unit: "ms", windowed: false, describes: "how long the oldest pending event has waited" },
  dead: { label: "Dead events", unit: "events", windowed: true, describes: "events that went dead within the window" },
  "refused-percent": {
    label: "Refused deliveries",
    unit: "%",
    windowed: true,
    describes: "rate-limited or quota-refused (429) events among all deliveries within the window",
  },
  "quota-forecast-percent": {
    label: "Daily quota forecast",
    unit: "%",
    windowed: true,
    describes: "today's events so far plus the window's rate until 00:00 UTC, as a share of the daily quota",
  },
  "source-failing-ms": { label: "Source failing", unit: "ms", windowed: false, describes: "how long the tenant's source has failed without a success" },
};

/**
 * Hysteresis: a firing alert resolves only once its value is at or below
 * threshold × RESOLVE_RATIO (0 for a threshold of 0) and has stayed there for
 * the evaluator's resolve-after interval. A value hovering at the threshold
 * therefore fires once and stays firing instead of flapping.
 */
export const RESOLVE_RATIO = 0.8;

export const ALERT_BOUNDS = {
  above: { min: 0, max: 1e12 },
  windowMs: { min: 60_000, max: 7 * 86_400_000 },
} as const;

export const ZAlertThreshold = z
  .number({ error: "must be a number" })
  .min(ALERT_BOUNDS.above.min, "must be 0 or more")
  .max(ALERT_BOUNDS.above.max, `must be at most ${ALERT_BOUNDS.above.max}`);

export const ZAlertWindowMs = z
  .number({ error: "must be a number" })
  .int("must be a whole number of milliseconds")
  .min(ALERT_BOUNDS.windowMs.min, `must be at least ${ALERT_BOUNDS.windowMs.min} (one minute: the rollups' resolution)`)
  .max(ALERT_BOUNDS.windowMs.max, `must be at most ${ALERT_BOUNDS.windowMs.max} (7 days)`);

/** The window a windowed rule gets when none is given. */
export const DEFAULT_WINDOW_MS: Record<AlertRuleName, number | null> = {
  "oldest-pending-ms": null,
  dead: 15 * 60_000,
  "refused-percent": 15 * 60_000,
  "quota-forecast-percent": 60 * 60_000,
  "source-failing-ms": null,
};

/** Setting a rule. A windowed rule without windowMs gets its default window; the others take none. */
export const ZSetAlertRuleInput = z
  .object({ rule: ZAlertRuleName, above: ZAlertThreshold, windowMs: ZAlertWindowMs.optional() })
  .superRefine((input, context) => {
    if (input.windowMs !== undefined && !ALERT_RULE_INFO[input.rule].windowed) {
      context.addIssue({ code: "custom", path: ["windowMs"], message: `${input.rule} is not measured over a window; leave the window out` });
    }
  });
export type TSetAlertRuleInput = z.infer<typeof ZSetAlertRuleInput>;

export interface AlertRuleSetting {
  rule: AlertRuleName;
  above: number;
  windowMs: number | null;
}

/** The rule as stored: its window filled in (or null for a rule without one). */
export function ruleSetting(input: TSetAlertRuleInput): AlertRuleSetting {
  return { rule: input.rule, above: input.above, windowMs: ALERT_RULE_INFO[input.rule].windowed ? (input.windowMs ?? DEFAULT_WINDOW_MS[input.rule]) : null };
}

/**
 * What a new tenant starts with: an event waiting over 5 minutes (the
 * overview's "bad" verdict), any dead event in 15 minutes, over 10% of
 * deliveries refused in 15 minutes, the daily quota forecast to run out
 * before 00:00 UTC (only for a tenant with a quota), a source failing for
 * 10 minutes (only for a tenant with a source).
 */
export const DEFAULT_ALERT_RULES: readonly AlertRuleSetting[] = [
  { rule: "oldest-pending-ms", above: 300_000, windowMs: null },
  { rule: "dead", above: 0, windowMs: DEFAULT_WINDOW_MS.dead },
  { rule: "refused-percent", above: 10, windowMs: DEFAULT_WINDOW_MS["refused-percent"] },
  { rule: "quota-forecast-percent", above: 100, windowMs: DEFAULT_WINDOW_MS["quota-forecast-percent"] },
  { rule: "source-failing-ms", above: 600_000, windowMs: null },
];
