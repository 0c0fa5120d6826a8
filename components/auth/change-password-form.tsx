"use client";
/**
 * Change your own password. Posts JSON to /api/auth/password, which checks
 * the current password, stores the new one, ends every other session of the
 * user and sets a fresh session cookie for this browser. Field errors (too
 * short, not repeated the same, wrong current password) appear beside their
 * field; anything else above the button.
 */
import { useState, type FormEvent } from "react";
import { Field } from "../ui/field.tsx";
import { FormError, LiveMessage } from "../ui/states.tsx";
import { MIN_PASSWORD_LENGTH, ZChangePasswordInput } from "@/server/schemas/user.ts";

type FieldName = "currentPassword" | "newPassword" | "repeatPassword";
type Errors = Partial<Record<FieldName | "form", string>>;

interface ApiError {
  error?: { code?: string; message?: string; details?: { path?: string; message?: string }[] };
}

export function ChangePasswordForm() {
  const [values, setValues] = useState<Record<FieldName, string>>({ currentPassword: "", newPassword: "", repeatPassword: "" });
  const [errors, setErrors] = useState<Errors>({});
  const [pending, setPending] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const set = (name: FieldName) => (value: string) => setValues((previous) => ({ ...previous, [name]: value }));

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setDone(null);
    const next: Errors = {};
    // The server's own rules: the current password given, the new one long enough and different. Repeating it is this form's alone.
    const parsed = ZChangePasswordInput.safeParse({ currentPassword: values.currentPassword, newPassword: values.newPassword });
    for (const issue of parsed.error?.issues ?? []) {
      const field = issue.path[0];
      if ((field === "currentPassword" || field === "newPassword") && !next[field]) next[field] = issue.message;
    }
    if (values.repeatPassword !== values.newPassword) next.repeatPassword = "does not match the new password";
    setErrors(next);
    if (Object.keys(next).length > 0) return;

    setPending(true);
    let response: Response;
    try {
      response = await fetch("/api/auth/password", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ currentPassword: values.currentPassword, newPassword: values.newPassword }),
        credentials: "same-origin",
      });
    } catch {
      setErrors({ form: "Could not reach the server. Check your connection and try again." });
      setPending(false);
      return;
    }
    setPending(false);
    if (response.ok) {
      setValues({ currentPassword: "", newPassword: "", repeatPassword: "" });
      setErrors({});
      setDone("Password changed. Every other session of yours has been signed out; this one stays signed in.");
      return;
    }
    if (response.status === 401) {
      // The session is gone (signed out elsewhere): a full load, so nothing cached for it survives.
      // eslint-disable-next-line @next/next/no-location-assign-relative-destination -- see above
      window.location.assign("/sign-in?next=/account");
      return;
    }
    const body = (await response.json().catch(() => null)) as ApiError | null;
    const fields: Errors = {};
    for (const detail of body?.error?.details ?? []) {
      if ((detail.path === "currentPassword" || detail.path === "newPassword") && detail.message) fields[detail.path] = detail.message;
    }
    if (Object.keys(fields).length > 0) {
      setErrors(fields);
      return;
    }
    let message = body?.error?.message ?? `The password was not changed (HTTP ${response.status}).`;
    if (response.status === 429) {
      const retryAfter = Number(response.headers.get("retry-after"));
      message = "Too many attempts with a wrong current password.";
      if (Number.isFinite(retryAfter) && retryAfter > 0) message += ` You can try again in ${retryAfter} s.`;
    }
    setErrors({ form: message });
  }

  return (
    <section className="panel" aria-labelledby="change-password-heading">
      <h2 id="change-password-heading" style={{ marginBottom: 12 }}>
        Change password
      </h2>
      <LiveMessage message={done} />
      <form onSubmit={submit} noValidate aria-labelledby="change-password-heading">
        <div className="form-grid">
          <Field
            label="Current password"
            type="password"
            autoComplete="current-password"
            value={values.currentPassword}
            onValueChange={set("currentPassword")}
            error={errors.currentPassword}
            required
          />
          <Field
            label="New password"
            type="password"
            autoComplete="new-password"
            hint={`At least ${MIN_PASSWORD_LENGTH} characters.`}
            value={values.newPassword}
            onValueChange={set("newPassword")}
            error={errors.newPassword}
            required
          />
          <Field
            label="Repeat the new password"
            type="password"
            autoComplete="new-password"
            value={values.repeatPassword}
            onValueChange={set("repeatPassword")}
            error={errors.repeatPassword}
            required
          />
        </div>
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={pending} aria-disabled={pending}>
            {pending ? "Changing…" : "Change password"}
          </button>
        </div>
      </form>
    </section>
  );
}
