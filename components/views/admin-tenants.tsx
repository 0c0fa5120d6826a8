"use client";
/**
 * Tenant administration: the list (a page at a time, most urgent first,
 * searchable: tenant-pager.tsx), "Create tenant", and per tenant "Edit
 * quotas", "Rotate secret" and "Source" (pull mode: set, pause, resume,
 * remove). A new secret (on creation or rotation) is
 * shown once, in one box at the top, until dismissed; it is never fetched
 * again. Inputs are checked here as the server will check them, and the
 * server's own objections are shown beside the field they concern.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState, type FormEvent } from "react";
import { QuotaFields } from "../admin/quota-fields.tsx";
import { SourceEditor } from "../admin/source-editor.tsx";
import { errorCode, errorMessage, fieldErrors } from "../errors.ts";
import { formatCount, formatDateTime, formatDecimal } from "../format.ts";
import { useTRPC } from "../trpc.ts";
import { HealthPill, SourceBadge } from "../ui/badges.tsx";
import { EditorPanel } from "../ui/editor-panel.tsx";
import { Field } from "../ui/field.tsx";
import { SecretBox } from "../ui/secret-box.tsx";
import { ErrorState, FormError, LiveMessage, Skeleton } from "../ui/states.tsx";
import { TenantPager, TenantSearch, useTenantPage } from "./tenant-pager.tsx";
import {
  DEFAULT_QUOTA_INPUTS,
  parseGraceHours,
  parseQuotas,
  quotaInputsOf,
  validateSlug,
  validateTenantName,
  type QuotaField,
  type QuotaInputs,
} from "../validation.ts";
import { DEFAULT_ROTATION_GRACE_HOURS, MAX_ROTATION_GRACE_HOURS, SLUG_MAX_LENGTH, TENANT_NAME_MAX_LENGTH } from "@/server/schemas/tenant.ts";
import type { ListedTenant } from "@/server/tenants/visibility.ts";

interface Revealed {
  slug: string;
  secret: string;
  kind: "created" | "rotated";
  previousValidUntil?: Date;
}

type Open = { slug: string; tenant: ListedTenant; panel: "quotas" | "rotate" | "source"; opener: HTMLElement | null } | null;

export function AdminTenantsView() {
  const paging = useTenantPage();
  const tenants = paging.query;
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [open, setOpen] = useState<Open>(null);

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Tenants</h1>
          <p className="muted small">Create tenants, set their quotas, rotate their webhook secrets and set the sources they are pulled from.</p>
        </div>
      </div>

      <div className="stack">
        <LiveMessage message={message} />

        {revealed ? (
          <SecretBox label="Webhook secret" value={revealed.secret} onDismiss={() => setRevealed(null)}>
            <p className="small" style={{ margin: 0 }}>
              {revealed.kind === "created" ? "New tenant " : "New secret for "}
              <strong className="mono">{revealed.slug}</strong>. Senders sign with it at <code>POST /api/webhooks/{revealed.slug}</code>.
              {revealed.previousValidUntil ? ` The previous secret keeps verifying until ${formatDateTime(revealed.previousValidUntil)}.` : ""}
            </p>
          </SecretBox>
        ) : null}

        <CreateTenant
          onCreated={(slug, secret) => {
            setRevealed({ slug, secret, kind: "created" });
            setMessage(`Created tenant ${slug}. Copy its webhook secret now.`);
          }}
        />

        <section className="stack" aria-labelledby="all-tenants-heading" style={{ gap: 8 }}>
          <h2 id="all-tenants-heading">All tenants</h2>
          <TenantSearch state={paging} />
          {tenants.isPending ? (
            <Skeleton height={160} />
          ) : tenants.isError ? (
            <ErrorState error={tenants.error} onRetry={() => void tenants.refetch()} />
          ) : tenants.data.total === 0 ? (
            <p className="panel muted">{paging.search.value ? `No tenants match “${paging.search.value}”.` : "No tenants yet. Create the first one above."}</p>
          ) : (
            <>
              {open ? (
                <EditorPanel key={`${open.slug}-${open.panel}`} id="tenant-editor" returnFocusTo={open.opener} onClose={() => setOpen(null)}>
                  {open.panel === "quotas" ? (
                    <EditQuotas
                      tenant={open.tenant}
                      onDone={(saved) => {
                        const slug = open.slug;
                        setOpen(null);
                        if (saved) setMessage(`Saved quotas for ${slug}.`);
                      }}
                    />
                  ) : open.panel === "source" ? (
                    <SourceEditor
                      slug={open.slug}
                      onDone={(done) => {
                        if (done) setMessage(done);
                        setOpen(null);
                      }}
                    />
                  ) : (
                    <RotateSecret
                      slug={open.slug}
                      onDone={(result) => {
                        const slug = open.slug;
                        setOpen(null);
                        if (result) {
                          setRevealed({ slug, secret: result.secret, kind: "rotated", previousValidUntil: result.previousValidUntil });
                          setMessage(`Rotated the secret of ${slug}. Copy the new secret now.`);
                        }
                      }}
                    />
                  )}
                </EditorPanel>
              ) : null}
              <TenantPager state={paging} />
              <div className="table-scroll" style={tenants.isPlaceholderData ? { opacity: 0.6 } : undefined}>
                <table className="data">
                  <caption className="visually-hidden">Tenants and their quotas, most urgent first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Slug</th>
                      <th scope="col">Name</th>
                      <th scope="col" className="num">
                        Rate/s
                      </th>
                      <th scope="col" className="num">
                        Burst
                      </th>
                      <th scope="col" className="num">
                        Daily quota
                      </th>
                      <th scope="col" className="num">
                        Weight
                      </th>
                      <th scope="col" className="num">
                        Max conc.
                      </th>
                      <th scope="col" className="num">
                        Retention
                      </th>
                      <th scope="col">Health</th>
                      <th scope="col">Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {tenants.data.tenants.map((tenant) => {
                      const isOpen = open?.slug === tenant.slug ? open.panel : null;
                      return (
                        <tr key={tenant.id} className={isOpen ? "expanded" : undefined}>
                          <th scope="row" className="nowrap">
                            <Link className="mono" href={`/tenants/${tenant.slug}`}>
                              {tenant.slug}
                            </Link>
                          </th>
                          <td className="wrap">{tenant.name}</td>
                          <td className="num">{formatDecimal(tenant.ratePerSecond)}</td>
                          <td className="num">{formatCount(tenant.burst)}</td>
                          <td className="num">{tenant.dailyQuota === null ? <span className="muted">unlimited</span> : formatCount(tenant.dailyQuota)}</td>
                          <td className="num">{formatCount(tenant.weight)}</td>
                          <td className="num">{formatCount(tenant.maxConcurrency)}</td>
                          <td className="num nowrap">{formatCount(tenant.retentionDays)} d</td>
                          <td>
                            <span className="row" style={{ gap: 4, flexWrap: "nowrap" }}>
                              {tenant.overview ? <HealthPill health={tenant.overview.health} reason={tenant.overview.healthReason} /> : null}
                              {tenant.source ? <SourceBadge summary={tenant.source} /> : null}
                            </span>
                          </td>
                          <td className="actions">
                            <span className="row" style={{ flexWrap: "nowrap" }}>
                              <button
                                type="button"
                                className="small"
                                aria-expanded={isOpen === "quotas"}
                                aria-controls={isOpen === "quotas" ? "tenant-editor" : undefined}
                                onClick={(event) =>
                                  setOpen(isOpen === "quotas" ? null : { slug: tenant.slug, tenant, panel: "quotas", opener: event.currentTarget })
                                }
                              >
                                Edit quotas
                              </button>
                              <button
                                type="button"
                                className="small"
                                aria-expanded={isOpen === "rotate"}
                                aria-controls={isOpen === "rotate" ? "tenant-editor" : undefined}
                                onClick={(event) =>
                                  setOpen(isOpen === "rotate" ? null : { slug: tenant.slug, tenant, panel: "rotate", opener: event.currentTarget })
                                }
                              >
                                Rotate secret
                              </button>
                              <button
                                type="button"
                                className="small"
                                aria-expanded={isOpen === "source"}
                                aria-controls={isOpen === "source" ? "tenant-editor" : undefined}
                                onClick={(event) =>
                                  setOpen(isOpen === "source" ? null : { slug: tenant.slug, tenant, panel: "source", opener: event.currentTarget })
                                }
                              >
                                Source
                              </button>
                            </span>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </section>
      </div>
    </>
  );
}

type CreateErrors = Partial<Record<QuotaField | "slug" | "name" | "form", string>>;

function CreateTenant({ onCreated }: { onCreated: (slug: string, secret: string) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [slug, setSlug] = useState("");
  const [name, setName] = useState("");
  const [quotas, setQuotas] = useState<QuotaInputs>(DEFAULT_QUOTA_INPUTS);
  const [errors, setErrors] = useState<CreateErrors>({});

  const create = useMutation(
    trpc.admin.createTenant.mutationOptions({
      onSuccess: async ({ tenant, secret }) => {
        setSlug("");
        setName("");
        setQuotas(DEFAULT_QUOTA_INPUTS);
        setErrors({});
        onCreated(tenant.slug, secret);
        await queryClient.invalidateQueries(trpc.tenants.pathFilter());
      },
      onError: (error) => {
        const fields = fieldErrors(error);
        if (Object.keys(fields).length > 0) setErrors(fields);
        else if (errorCode(error) === "CONFLICT") setErrors({ slug: errorMessage(error) });
        else setErrors({ form: errorMessage(error) });
      },
    }),
  );

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const next: CreateErrors = {};
    const slugError = validateSlug(slug.trim());
    if (slugError) next.slug = slugError;
    const nameError = validateTenantName(name.trim());
    if (nameError) next.name = nameError;
    const parsed = parseQuotas(quotas);
    if (parsed.errors) Object.assign(next, parsed.errors);
    setErrors(next);
    if (Object.keys(next).length > 0 || !parsed.values) return;
    create.mutate({ slug: slug.trim(), name: name.trim() || undefined, ...parsed.values });
  }

  return (
    <section className="panel" aria-labelledby="create-tenant-heading">
      <h2 id="create-tenant-heading" style={{ marginBottom: 12 }}>
        Create tenant
      </h2>
      <form onSubmit={submit} noValidate aria-labelledby="create-tenant-heading">
        <div className="form-grid wide">
          <Field
            label="Slug"
            hint="In the webhook URL: lowercase letters, digits, dashes"
            value={slug}
            onValueChange={(value) => setSlug(value.toLowerCase())}
            error={errors.slug}
            autoComplete="off"
            spellCheck={false}
            required
            maxLength={SLUG_MAX_LENGTH}
          />
          <Field
            label="Name"
            hint="Optional; defaults to the slug"
            value={name}
            onValueChange={setName}
            error={errors.name}
            autoComplete="off"
            maxLength={TENANT_NAME_MAX_LENGTH}
          />
        </div>
        <fieldset>
          <legend>Quotas</legend>
          <div className="form-grid">
            <QuotaFields values={quotas} errors={errors} onChange={(field, value) => setQuotas((current) => ({ ...current, [field]: value }))} />
          </div>
        </fieldset>
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create tenant"}
          </button>
          {Object.keys(errors).length > 0 && !errors.form ? (
            <span className="small" role="alert" style={{ color: "var(--bad)" }}>
              Check the highlighted fields.
            </span>
          ) : null}
        </div>
      </form>
    </section>
  );
}

function EditQuotas({ tenant, onDone }: { tenant: ListedTenant; onDone: (saved: boolean) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [quotas, setQuotas] = useState<QuotaInputs>(quotaInputsOf(tenant));
  const [errors, setErrors] = useState<Partial<Record<QuotaField | "form", string>>>({});
  const save = useMutation(
    trpc.admin.updateQuotas.mutationOptions({
      onSuccess: async () => {
        await Promise.all([
          // Every tenants.* query: the list, its pages, and this tenant's own.
          queryClient.invalidateQueries(trpc.tenants.pathFilter()),
        ]);
        onDone(true);
      },
      onError: (error) => {
        const fields = fieldErrors(error, "quotas");
        setErrors(Object.keys(fields).length > 0 ? fields : { form: errorMessage(error) });
      },
    }),
  );

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const parsed = parseQuotas(quotas);
    if (parsed.errors) {
      setErrors(parsed.errors);
      return;
    }
    setErrors({});
    save.mutate({ tenant: tenant.slug, quotas: parsed.values });
  }

  return (
    <form onSubmit={submit} noValidate aria-label={`Edit quotas for ${tenant.slug}`}>
      <h3 style={{ marginBottom: 8 }}>Quotas of {tenant.slug}</h3>
      <div className="form-grid">
        <QuotaFields values={quotas} errors={errors} onChange={(field, value) => setQuotas((current) => ({ ...current, [field]: value }))} />
      </div>
      <FormError message={errors.form} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save quotas"}
        </button>
        <button type="button" onClick={() => onDone(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function RotateSecret({ slug, onDone }: { slug: string; onDone: (result: { secret: string; previousValidUntil: Date } | null) => void }) {
  const trpc = useTRPC();
  const [grace, setGrace] = useState(String(DEFAULT_ROTATION_GRACE_HOURS));
  const [error, setError] = useState<string | null>(null);
  const rotate = useMutation(
    trpc.admin.rotateSecret.mutationOptions({
      onSuccess: (result) => onDone(result),
      onError: (failure) => setError(errorMessage(failure)),
    }),
  );

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const parsed = parseGraceHours(grace);
    setError(parsed.error);
    if (parsed.error === null) rotate.mutate({ tenant: slug, graceHours: parsed.hours });
  }

  return (
    <form onSubmit={submit} noValidate aria-label={`Rotate secret for ${slug}`}>
      <h3 style={{ marginBottom: 8 }}>Rotate the webhook secret of {slug}</h3>
      <p className="small muted" style={{ marginTop: 0 }}>
        A new secret is issued and shown once. The current one keeps verifying during the grace period, so senders can switch without a gap.
      </p>
      <div className="form-grid">
        <Field
          label="Grace period (hours)"
          hint={`0–${MAX_ROTATION_GRACE_HOURS}; 0 ends the current secret now`}
          type="number"
          inputMode="decimal"
          step="any"
          min={0}
          max={MAX_ROTATION_GRACE_HOURS}
          value={grace}
          onValueChange={setGrace}
          error={error}
        />
      </div>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={rotate.isPending}>
          {rotate.isPending ? "Rotating…" : "Rotate now"}
        </button>
        <button type="button" onClick={() => onDone(null)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
