"use client";
// The quota inputs and the retention setting, shared by "Create tenant" and "Edit quotas"; their limits are ZQuotas' own (server/schemas/tenant.ts).
import { Field } from "../ui/field.tsx";
import { quotaMax, quotaMin, quotaRange, type QuotaField, type QuotaInputs } from "../validation.ts";

export function QuotaFields({
  values,
  errors,
  onChange,
  disabled,
}: {
  values: QuotaInputs;
  errors: Partial<Record<QuotaField, string>>;
  onChange: (field: QuotaField, value: string) => void;
  disabled?: boolean;
}) {
  return (
    <>
      <Field
        label="Rate per second"
        hint={`Sustained events/s (${quotaRange("ratePerSecond")})`}
        type="number"
        inputMode="decimal"
        step="any"
        min={quotaMin("ratePerSecond")}
        max={quotaMax("ratePerSecond")}
        required
        value={values.ratePerSecond}
        onValueChange={(value) => onChange("ratePerSecond", value)}
        error={errors.ratePerSecond}
        disabled={disabled}
      />
      <Field
        label="Burst"
        hint={`Events allowed at once (${quotaRange("burst")})`}
        type="number"
        inputMode="numeric"
        step={1}
        min={quotaMin("burst")}
        max={quotaMax("burst")}
        required
        value={values.burst}
        onValueChange={(value) => onChange("burst", value)}
        error={errors.burst}
        disabled={disabled}
      />
      <Field
        label="Daily quota"
        hint="Events per day; empty = unlimited"
        type="number"
        inputMode="numeric"
        step={1}
        min={quotaMin("dailyQuota")}
        max={quotaMax("dailyQuota")}
        placeholder="unlimited"
        value={values.dailyQuota}
        onValueChange={(value) => onChange("dailyQuota", value)}
        error={errors.dailyQuota}
        disabled={disabled}
      />
      <Field
        label="Weight"
        hint={`Share of processing (${quotaRange("weight")})`}
        type="number"
        inputMode="numeric"
        step={1}
        min={quotaMin("weight")}
        max={quotaMax("weight")}
        required
        value={values.weight}
        onValueChange={(value) => onChange("weight", value)}
        error={errors.weight}
        disabled={disabled}
      />
      <Field
        label="Max concurrency"
        hint={`Batches processed at once (${quotaRange("maxConcurrency")})`}
        type="number"
        inputMode="numeric"
        step={1}
        min={quotaMin("maxConcurrency")}
        max={quotaMax("maxConcurrency")}
        required
        value={values.maxConcurrency}
        onValueChange={(value) => onChange("maxConcurrency", value)}
        error={errors.maxConcurrency}
        disabled={disabled}
      />
      <Field
        label="Retention (days)"
        hint={`Processed events and tombstones kept (${quotaRange("retentionDays")}); rollups are kept`}
        type="number"
        inputMode="numeric"
        step={1}
        min={quotaMin("retentionDays")}
        max={quotaMax("retentionDays")}
        required
        value={values.retentionDays}
        onValueChange={(value) => onChange("retentionDays", value)}
        error={errors.retentionDays}
        disabled={disabled}
      />
    </>
  );
}
