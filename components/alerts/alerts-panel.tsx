"use client";
/**
 * A tenant's alerts on its page: each rule with its threshold, window, last
 * value and state; admins change a rule's threshold and window, add a rule
 * or remove one (the server validates with the same schema the form checks
 * with); and the alert history, newest first (when each fired, at what
 * value, its peak, when it resolved). Refreshed every 5 s while visible.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { errorMessage, fieldErrors } from "../errors.ts";
import { formatAge } from "../format.ts";
import { LIVE_REFRESH_MS } from "../hooks/use-tenant-series.ts";
import { useTRPC } from "../trpc.ts";
import { ConfirmButton } from "../ui/confirm-button.tsx";
import { Field } from "../ui/field.tsx";
import { ErrorState, FormError, LiveMessage, Skeleton } from "../ui/states.tsx";
import { Time } from "../ui/time.tsx";
import { formatAlertValue, ruleLabel } from "./alert-format.ts";
import { ALERT_RULE_INFO, ALERT_RULES, DEFAULT_WINDOW_MS, ZSetAlertRuleInput, type AlertRuleName } from "@/server/schemas/alert.ts";

export function AlertsPanel({ slug, isAdmin }: { slug: string; isAdmin: boolean }) {
  const trpc = useTRPC();
  const heading = useId();
  const [message, setMessage] = useState<string | null>(null);
  const alerts = useQuery({
    ...trpc.alerts.forTenant.queryOptions({ tenant: slug }),
    refetchInterval: LIVE_REFRESH_MS,
    refetchIntervalInBackground: false,
    placeholderData: keepPreviousData,
  });
  if (alerts.isPending) return <Skeleton height={160} label="Loading alerts" />;
  if (alerts.isError && !alerts.data) return <ErrorState title="Could not load the alerts" error={alerts.error} onRetry={() => void alerts.refetch()} />;
  const { rules, history, targetSet } = alerts.data;
  return (
    <section className="panel" aria-labelledby={heading}>
      <h2 id={heading}>Alerts</h2>
      {!targetSet ? (
        <p className="muted small">
          No alert target is set, so alerts show here but are not sent anywhere (<span className="mono">npm run tidemark -- alert target --url …</span>).
        </p>
      ) : null}
      {rules.length === 0 ? (
        <p className="muted">No alert rules.</p>
      ) : (
        <div className="table-scroll">
          <table className="data">
            <caption className="visually-hidden">Alert rules of {slug}</caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Fires above</th>
                <th scope="col">Window</th>
                <th scope="col">Last value</th>
                <th scope="col">State</th>
                {isAdmin ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {rules.map((rule) => (
                <tr key={rule.rule} data-alert-rule={rule.rule} data-state={rule.state}>
                  <th scope="row" title={ALERT_RULE_INFO[rule.rule].describes}>
                    {ruleLabel(rule.rule)}
                  </th>
                  <td>{formatAlertValue(rule.rule, rule.above)}</td>
                  <td>{rule.windowMs === null ? <span className="muted">—</span> : formatAge(rule.windowMs)}</td>
                  <td>{formatAlertValue(rule.rule, rule.value)}</td>
                  <td>
                    {rule.state === "firing" ? (
                      <span className="badge bad">
                        Firing since <Time value={rule.since ? new Date(rule.since) : null} />
                      </span>
                    ) : (
                      <span className="badge ok">OK</span>
                    )}
                  </td>
                  {isAdmin ? (
                    <td>
                      <RemoveRule slug={slug} rule={rule.rule} onDone={setMessage} />
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {isAdmin ? <RuleForm slug={slug} rules={rules} onDone={setMessage} /> : null}
      <LiveMessage message={message} />
      <h3>History</h3>
      {history.length === 0 ? (
        <p className="muted small">No alert has fired for this tenant yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="data" aria-label="Alert history">
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Fired</th>
                <th scope="col">At</th>
                <th scope="col">Peak</th>
                <th scope="col">Resolved</th>
              </tr>
            </thead>
            <tbody>
              {history.map((entry) => (
                <tr key={entry.id} data-history-rule={entry.rule} data-resolved={entry.resolvedAt !== null}>
                  <th scope="row">{ruleLabel(entry.rule)}</th>
                  <td>
                    <Time value={new Date(entry.firedAt)} />
                  </td>
                  <td>
                    {formatAlertValue(entry.rule, entry.value)} (above {formatAlertValue(entry.rule, entry.threshold)})
                  </td>
                  <td>{formatAlertValue(entry.rule, entry.peakValue)}</td>
                  <td>
                    {entry.resolvedAt === null ? (
                      <span className="badge bad">still firing</span>
                    ) : (
                      <>
                        <Time value={new Date(entry.resolvedAt)} /> at {formatAlertValue(entry.rule, entry.resolvedValue)}
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function useRefreshAlerts(slug: string) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.alerts.forTenant.queryKey({ tenant: slug }) }),
      queryClient.invalidateQueries({ queryKey: trpc.alerts.firing.queryKey() }),
    ]);
}

function RemoveRule({ slug, rule, onDone }: { slug: string; rule: AlertRuleName; onDone: (message: string | null) => void }) {
  const trpc = useTRPC();
  const refresh = useRefreshAlerts(slug);
  const remove = useMutation(
    trpc.alerts.removeRule.mutationOptions({
      onSuccess: async () => {
        await refresh();
        onDone(`Removed the ${ruleLabel(rule).toLowerCase()} rule.`);
      },
      onError: (error) => onDone(`Could not remove the rule: ${errorMessage(error)}`),
    }),
  );
  return (
    <ConfirmButton
      label="Remove"
      accessibleLabel={`Remove the ${ruleLabel(rule)} rule`}
      question="Remove this rule?"
      small
      danger
      pending={remove.isPending}
      onConfirm={() => remove.mutate({ tenant: slug, rule })}
    />
  );
}

type Errors = Partial<Record<"above" | "windowMs" | "form", string>>;

function RuleForm({
  slug,
  rules,
  onDone,
}: {
  slug: string;
  rules: { rule: AlertRuleName; above: number; windowMs: number | null }[];
  onDone: (message: string | null) => void;
}) {
  const trpc = useTRPC();
  const refresh = useRefreshAlerts(slug);
  const selectId = useId();
  const current = (rule: AlertRuleName) => rules.find((r) => r.rule === rule);
  const [rule, setRule] = useState<AlertRuleName>("dead");
  const [above, setAbove] = useState(String(current("dead")?.above ?? 0));
  const [windowMs, setWindowMs] = useState(String(current("dead")?.windowMs ?? DEFAULT_WINDOW_MS.dead));
  const [errors, setErrors] = useState<Errors>({});
  const windowed = ALERT_RULE_INFO[rule].windowed;

  const save = useMutation(
    trpc.alerts.setRule.mutationOptions({
      onSuccess: async () => {
        await refresh();
        setErrors({});
        onDone(`Saved the ${ruleLabel(rule).toLowerCase()} rule.`);
      },
      onError: (error) => {
        const fields = fieldErrors(error, "rule");
        setErrors(Object.keys(fields).length > 0 ? fields : { form: errorMessage(error) });
      },
    }),
  );

  function choose(next: AlertRuleName) {
    setRule(next);
    setAbove(String(current(next)?.above ?? ""));
    setWindowMs(String(current(next)?.windowMs ?? DEFAULT_WINDOW_MS[next] ?? ""));
    setErrors({});
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const input = {
      rule,
      above: above.trim() === "" ? Number.NaN : Number(above),
      ...(windowed ? { windowMs: windowMs.trim() === "" ? Number.NaN : Number(windowMs) } : {}),
    };
    const checked = ZSetAlertRuleInput.safeParse(input);
    if (!checked.success) {
      const next: Errors = {};
      for (const issue of checked.error.issues) {
        const field = String(issue.path[0] ?? "form");
        next[field === "above" || field === "windowMs" ? field : "form"] ??= issue.message;
      }
      setErrors(next);
      return;
    }
    save.mutate({ tenant: slug, rule: checked.data });
  }

  return (
    <form className="inline-form" onSubmit={submit} noValidate aria-label="Set an alert rule">
      <div className="field">
        <label htmlFor={selectId}>Rule</label>
        <select id={selectId} value={rule} onChange={(event) => choose(event.target.value as AlertRuleName)}>
          {ALERT_RULES.map((name) => (
            <option key={name} value={name}>
              {ruleLabel(name)} ({name}){current(name) ? "" : " — not set"}
            </option>
          ))}
        </select>
      </div>
      <Field
        label={`Fires above (${ALERT_RULE_INFO[rule].unit})`}
        hint={ALERT_RULE_INFO[rule].describes}
        inputMode="decimal"
        value={above}
        onValueChange={setAbove}
        error={errors.above}
      />
      {windowed ? <Field label="Window (ms)" inputMode="numeric" value={windowMs} onValueChange={setWindowMs} error={errors.windowMs} /> : null}
      <p>
        <button type="submit" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save rule"}
        </button>
      </p>
      <FormError message={errors.form} />
    </form>
  );
}
