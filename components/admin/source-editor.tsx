"use client";
/**
 * An admin's controls for a tenant's source (pull mode): set it (URL, bearer
 * token, interval, page size, item URL), pause, resume, remove. The token is
 * write-only: the form never shows it, only whether one is set; left empty,
 * the current one stays. Fields are checked with the server's own schemas
 * (server/schemas/source.ts) before sending, and the server's objections are
 * shown beside the field they concern.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { errorMessage, fieldErrors } from "../errors.ts";
import { useTRPC } from "../trpc.ts";
import { ConfirmButton } from "../ui/confirm-button.tsx";
import { Field } from "../ui/field.tsx";
import { FormError, Skeleton } from "../ui/states.tsx";
import { SourceDetails, type SourceStatusView } from "../views/source-panel.tsx";
import { SOURCE_BOUNDS, SOURCE_DEFAULTS, ZSourceIntervalMs, ZSourcePageSize, ZSourceToken, ZSourceUrl, type TSetSourceInput } from "@/server/schemas/source.ts";

type FieldName = "url" | "token" | "intervalMs" | "pageSize" | "itemUrl";
type Errors = Partial<Record<FieldName | "form", string>>;

function firstIssue(result: { success: boolean; error?: { issues: { message: string }[] } }): string | undefined {
  return result.success ? undefined : result.error?.issues[0]?.message;
}

function wholeNumber(text: string): number {
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
}

export function SourceEditor({ slug, onDone }: { slug: string; onDone: (message: string | null) => void }) {
  const trpc = useTRPC();
  const status = useQuery(trpc.sources.status.queryOptions({ tenant: slug }));
  if (status.isPending) return <Skeleton height={160} />;
  if (status.isError) return <FormError message={errorMessage(status.error)} />;
  return <SourceForm slug={slug} current={status.data} onDone={onDone} />;
}

function SourceForm({ slug, current, onDone }: { slug: string; current: SourceStatusView | null; onDone: (message: string | null) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [url, setUrl] = useState(current?.url ?? "");
  const [token, setToken] = useState("");
  const [removeToken, setRemoveToken] = useState(false);
  const [intervalMs, setIntervalMs] = useState(String(current?.intervalMs ?? SOURCE_DEFAULTS.intervalMs));
  const [pageSize, setPageSize] = useState(String(current?.pageSize ?? SOURCE_DEFAULTS.pageSize));
  const [itemUrl, setItemUrl] = useState(current?.itemUrl ?? "");
  const [errors, setErrors] = useState<Errors>({});

  const refresh = async () => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.sources.status.queryKey({ tenant: slug }) }),
      queryClient.invalidateQueries(trpc.tenants.pathFilter()),
    ]);
  };
  const onError = (error: unknown) => {
    const fields = fieldErrors(error, "source");
    setErrors(Object.keys(fields).length > 0 ? fields : { form: errorMessage(error) });
  };
  const save = useMutation(
    trpc.sources.set.mutationOptions({
      onSuccess: async () => {
        await refresh();
        onDone(`Saved the source of ${slug}.`);
      },
      onError,
    }),
  );
  const pause = useMutation(trpc.sources.pause.mutationOptions({ onSuccess: refresh, onError }));
  const resume = useMutation(trpc.sources.resume.mutationOptions({ onSuccess: refresh, onError }));
  const remove = useMutation(
    trpc.sources.remove.mutationOptions({
      onSuccess: async () => {
        await refresh();
        onDone(`Removed the source of ${slug}.`);
      },
      onError,
    }),
  );

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const next: Errors = {};
    next.url = firstIssue(ZSourceUrl.safeParse(url));
    if (token !== "" && !removeToken) next.token = firstIssue(ZSourceToken.safeParse(token));
    next.intervalMs = firstIssue(ZSourceIntervalMs.safeParse(wholeNumber(intervalMs)));
    next.pageSize = firstIssue(ZSourcePageSize.safeParse(wholeNumber(pageSize)));
    if (itemUrl.trim() !== "") next.itemUrl = firstIssue(ZSourceUrl.safeParse(itemUrl));
    const found = Object.fromEntries(Object.entries(next).filter(([, message]) => message !== undefined)) as Errors;
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    const source: TSetSourceInput = {
      url: url.trim(),
      intervalMs: wholeNumber(intervalMs),
      pageSize: wholeNumber(pageSize),
      itemUrl: itemUrl.trim() === "" ? null : itemUrl.trim(),
      ...(removeToken ? { token: null } : token !== "" ? { token } : {}),
    };
    save.mutate({ tenant: slug, source });
  }

  const busy = save.isPending || pause.isPending || resume.isPending || remove.isPending;
  return (
    <div className="stack" style={{ gap: 12 }}>
      {current ? <SourceDetails status={current} /> : null}
      <form onSubmit={submit} noValidate aria-label={`Source of ${slug}`}>
        <h3 style={{ marginBottom: 8 }}>{current ? `Source of ${slug}` : `Pull events for ${slug} from its API`}</h3>
        <p className="small muted" style={{ marginTop: 0 }}>
          Tidemark polls <code>GET {"{URL}"}?cursor=…&amp;limit=…</code>, expecting{" "}
          <code>{'{"events": [...], "next_cursor": "…", "has_more": true|false}'}</code>. Any http or https URL is allowed, loopback included. A new URL starts
          again from its first page.
        </p>
        <div className="form-grid wide">
          <Field label="URL" value={url} onValueChange={setUrl} error={errors.url} autoComplete="off" spellCheck={false} required />
          <Field
            label="Bearer token"
            hint={current?.hasToken ? "A token is set; leave empty to keep it" : "Optional; sent as authorization: Bearer …"}
            type="password"
            value={token}
            onValueChange={setToken}
            error={errors.token}
            autoComplete="new-password"
            disabled={removeToken}
          />
        </div>
        {current?.hasToken ? (
          <label className="small row" style={{ gap: 6 }}>
            <input type="checkbox" checked={removeToken} onChange={(event) => setRemoveToken(event.target.checked)} /> Remove the token
          </label>
        ) : null}
        <div className="form-grid">
          <Field
            label="Interval (ms)"
            hint={`${SOURCE_BOUNDS.intervalMs.min}–${SOURCE_BOUNDS.intervalMs.max}; sooner while the source has more`}
            inputMode="numeric"
            value={intervalMs}
            onValueChange={setIntervalMs}
            error={errors.intervalMs}
          />
          <Field
            label="Page size"
            hint={`${SOURCE_BOUNDS.pageSize.min}–${SOURCE_BOUNDS.pageSize.max} events`}
            inputMode="numeric"
            value={pageSize}
            onValueChange={setPageSize}
            error={errors.pageSize}
          />
          <Field
            label="Item URL"
            hint="Optional, for thin events: GET {item URL}/{id}"
            value={itemUrl}
            onValueChange={setItemUrl}
            error={errors.itemUrl}
            autoComplete="off"
          />
        </div>
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            {save.isPending ? "Saving…" : current ? "Save source" : "Set source"}
          </button>
          {current ? (
            current.paused ? (
              <button type="button" disabled={busy} onClick={() => resume.mutate({ tenant: slug })}>
                {resume.isPending ? "Resuming…" : "Resume"}
              </button>
            ) : (
              <button type="button" disabled={busy} onClick={() => pause.mutate({ tenant: slug })}>
                {pause.isPending ? "Pausing…" : "Pause"}
              </button>
            )
          ) : null}
          {current ? (
            <ConfirmButton
              label="Remove source"
              question="Remove the source and its cursor? Stored events stay."
              confirmLabel="Remove"
              danger
              pending={remove.isPending}
              onConfirm={() => remove.mutate({ tenant: slug })}
            />
          ) : null}
          <button type="button" onClick={() => onDone(null)}>
            Close
          </button>
        </div>
      </form>
    </div>
  );
}
