// How an alert rule's value and threshold read: "4 events", "12.5%", "6 min 2 s", with the rule's label.
import { formatAge, formatCount, formatDecimal } from "../format.ts";
import { ALERT_RULE_INFO, type AlertRuleName } from "@/server/schemas/alert.ts";

export function formatAlertValue(rule: AlertRuleName, value: number | null): string {
  if (value === null) return "—";
  const { unit } = ALERT_RULE_INFO[rule];
  if (unit === "ms") return formatAge(value);
  if (unit === "%") return `${formatDecimal(value)}%`;
  return `${formatCount(value)} ${value === 1 ? "event" : "events"}`;
}

export const ruleLabel = (rule: AlertRuleName) => ALERT_RULE_INFO[rule].label;
