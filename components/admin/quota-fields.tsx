"use client";
// The five quota inputs, shared by "Create tenant" and "Edit quotas"; limits mirror ZQuotas on the server.
import { Field } from "../ui/field.tsx";
import type { QuotaField, QuotaInputs } from "../validation.ts";

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
        hint="Sustained events/s (> 0, ≤ 1,000,000)"
        type="number"
        inputMode="decimal"
        step="any"
        min={0}
        required
        value={values.ratePerSecond}
        onValueChange={(value) => onChange("ratePerSecond", value)}
        error={errors.ratePerSecond}
        disabled={disabled}
      />
      <Field
        label="Burst"
        hint="Events allowed at once (1–10,000,000)"
        type="number"
        inputMode="numeric"
        step={1}
        min={1}
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
        min={1}
        placeholder="unlimited"
        value={values.dailyQuota}
        onValueChange={(value) => onChange("dailyQuota", value)}
        error={errors.dailyQuota}
        disabled={disabled}
      />
      <Field
        label="Weight"
        hint="Share of processing (1–1,000)"
        type="number"
        inputMode="numeric"
        step={1}
        min={1}
        max={1000}
        required
        value={values.weight}
        onValueChange={(value) => onChange("weight", value)}
        error={errors.weight}
        disabled={disabled}
      />
      <Field
        label="Max concurrency"
        hint="Batches processed at once (1–64)"
        type="number"
        inputMode="numeric"
        step={1}
        min={1}
        max={64}
        required
        value={values.maxConcurrency}
        onValueChange={(value) => onChange("maxConcurrency", value)}
        error={errors.maxConcurrency}
        disabled={disabled}
      />
    </>
  );
}
