"use client";
/**
 * User administration: the users with their role, tenants and active
 * sessions; create a user (a generated password is shown once); edit a
 * user's tenants; revoke their sessions; delete them. Destructive actions
 * ask first; results are announced.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { errorCode, errorMessage, fieldErrors } from "../errors.ts";
import { formatCount, formatDateTime } from "../format.ts";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badges.tsx";
import { ConfirmButton } from "../ui/confirm-button.tsx";
import { EditorPanel } from "../ui/editor-panel.tsx";
import { Field } from "../ui/field.tsx";
import { SecretBox } from "../ui/secret-box.tsx";
import { ErrorState, FormError, LiveMessage, Skeleton } from "../ui/states.tsx";
import { Time } from "../ui/time.tsx";
import { validateEmail, validatePassword } from "../validation.ts";
import { MIN_PASSWORD_LENGTH, ROLES, type Role } from "@/server/schemas/user.ts";

export function AdminUsersView({ currentUserId }: { currentUserId: number | null }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const users = useQuery(trpc.admin.users.queryOptions());
  const tenants = useQuery(trpc.tenants.list.queryOptions());
  const slugs = tenants.data?.map((tenant) => tenant.slug) ?? [];
  const [message, setMessage] = useState<{ text: string; tone: "ok" | "bad" } | null>(null);
  const [generated, setGenerated] = useState<{ email: string; password: string } | null>(null);
  const [editing, setEditing] = useState<{ userId: number; opener: HTMLElement | null } | null>(null);

  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.admin.users.queryKey() });

  const revoke = useMutation(
    trpc.admin.revokeSessions.mutationOptions({
      onSuccess: async ({ revoked }, { userId }) => {
        const email = users.data?.find((user) => user.id === userId)?.email ?? "the user";
        setMessage({ text: `Revoked ${formatCount(revoked)} session${revoked === 1 ? "" : "s"} of ${email}.`, tone: "ok" });
        // Revoking one's own sessions signs this browser out too: a full load, so nothing cached for it survives.
        // eslint-disable-next-line @next/next/no-location-assign-relative-destination -- see above
        if (userId === currentUserId) window.location.assign("/sign-in");
        await refresh();
      },
      onError: (error) => setMessage({ text: `Could not revoke sessions: ${errorMessage(error)}`, tone: "bad" }),
    }),
  );
  const remove = useMutation(
    trpc.admin.deleteUser.mutationOptions({
      onSuccess: async (_result, { userId }) => {
        const email = users.data?.find((user) => user.id === userId)?.email ?? "the user";
        setMessage({ text: `Deleted ${email}.`, tone: "ok" });
        await refresh();
      },
      onError: (error) => setMessage({ text: `Could not delete: ${errorMessage(error)}`, tone: "bad" }),
    }),
  );

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Users</h1>
          <p className="muted small">Admins see and manage every tenant; viewers see the tenants they are members of.</p>
        </div>
      </div>

      <div className="stack">
        <LiveMessage message={message?.text ?? null} tone={message?.tone} />

        {generated ? (
          <SecretBox label="Generated password" value={generated.password} onDismiss={() => setGenerated(null)}>
            <p className="small" style={{ margin: 0 }}>
              Give it to <strong>{generated.email}</strong> over a safe channel.
            </p>
          </SecretBox>
        ) : null}

        <CreateUser
          slugs={slugs}
          onCreated={(email, password) => {
            setMessage({ text: password ? `Created ${email}. Copy the generated password now.` : `Created ${email}.`, tone: "ok" });
            setGenerated(password ? { email, password } : null);
          }}
        />

        <section className="stack" aria-labelledby="users-heading" style={{ gap: 8 }}>
          <h2 id="users-heading">All users</h2>
          {users.isPending ? (
            <Skeleton height={160} />
          ) : users.isError ? (
            <ErrorState error={users.error} onRetry={() => void users.refetch()} />
          ) : (
            <>
              {editing ? (
                <EditorPanel key={editing.userId} id="user-editor" returnFocusTo={editing.opener} onClose={() => setEditing(null)}>
                  {(() => {
                    const user = users.data.find((candidate) => candidate.id === editing.userId);
                    if (!user) return null;
                    return (
                      <EditMemberships
                        userId={user.id}
                        email={user.email}
                        initial={user.tenants}
                        slugs={slugs}
                        onDone={(saved) => {
                          setEditing(null);
                          if (saved) setMessage({ text: `Saved the tenants of ${user.email}.`, tone: "ok" });
                        }}
                      />
                    );
                  })()}
                </EditorPanel>
              ) : null}
              <div className="table-scroll">
                <table className="data">
                  <caption className="visually-hidden">All users</caption>
                  <thead>
                    <tr>
                      <th scope="col">Email</th>
                      <th scope="col">Role</th>
                      <th scope="col">Tenants</th>
                      <th scope="col" className="num">
                        Active sessions
                      </th>
                      <th scope="col">Created</th>
                      <th scope="col">Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {users.data.map((user) => {
                      const self = user.id === currentUserId;
                      return (
                        <tr key={user.id} className={editing?.userId === user.id ? "expanded" : undefined}>
                          <th scope="row" className="wrap">
                            {user.email}
                            {self ? (
                              <>
                                {" "}
                                <Badge tone="info">you</Badge>
                              </>
                            ) : null}
                          </th>
                          <td>{user.role}</td>
                          <td className="wrap">
                            {user.tenants.length === 0 ? (
                              <span className="muted">{user.role === "admin" ? "all (admin)" : "none"}</span>
                            ) : (
                              user.tenants.join(", ")
                            )}
                          </td>
                          <td className="num">{formatCount(user.sessions)}</td>
                          <td>
                            <Time value={user.createdAt} format={formatDateTime} />
                          </td>
                          <td className="actions">
                            <span className="row" style={{ flexWrap: "nowrap" }}>
                              <button
                                type="button"
                                className="small"
                                aria-expanded={editing?.userId === user.id}
                                aria-controls={editing?.userId === user.id ? "user-editor" : undefined}
                                onClick={(event) => setEditing(editing?.userId === user.id ? null : { userId: user.id, opener: event.currentTarget })}
                              >
                                Edit tenants
                              </button>
                              <ConfirmButton
                                small
                                label="Revoke sessions"
                                question={self ? "Revoke your own sessions? This signs you out." : `Sign ${user.email} out everywhere?`}
                                confirmLabel="Revoke"
                                onConfirm={() => revoke.mutate({ userId: user.id })}
                                pending={revoke.isPending && revoke.variables?.userId === user.id}
                                disabled={user.sessions === 0}
                              />
                              <ConfirmButton
                                small
                                danger
                                label="Delete"
                                question={`Delete ${user.email}?`}
                                confirmLabel="Delete"
                                onConfirm={() => remove.mutate({ userId: user.id })}
                                pending={remove.isPending && remove.variables?.userId === user.id}
                                disabled={self}
                              />
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

function TenantChecks({ legend, slugs, selected, onChange }: { legend: string; slugs: string[]; selected: string[]; onChange: (next: string[]) => void }) {
  return (
    <fieldset>
      <legend>{legend}</legend>
      {slugs.length === 0 ? (
        <span className="muted small">No tenants yet.</span>
      ) : (
        <div className="checks">
          {slugs.map((slug) => (
            <label key={slug} className="check mono">
              <input
                type="checkbox"
                checked={selected.includes(slug)}
                onChange={(event) => onChange(event.target.checked ? [...selected, slug] : selected.filter((s) => s !== slug))}
              />
              {slug}
            </label>
          ))}
        </div>
      )}
    </fieldset>
  );
}

type CreateErrors = Partial<Record<"email" | "password" | "form", string>>;

function CreateUser({ slugs, onCreated }: { slugs: string[]; onCreated: (email: string, generatedPassword: string | undefined) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const roleId = useId();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [tenantSlugs, setTenantSlugs] = useState<string[]>([]);
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<CreateErrors>({});

  const create = useMutation(
    trpc.admin.createUser.mutationOptions({
      onSuccess: async (user) => {
        setEmail("");
        setPassword("");
        setTenantSlugs([]);
        setRole("viewer");
        setErrors({});
        onCreated(user.email, user.generatedPassword);
        await queryClient.invalidateQueries({ queryKey: trpc.admin.users.queryKey() });
      },
      onError: (error) => {
        const fields = fieldErrors(error);
        if (fields.email || fields.password) setErrors({ email: fields.email, password: fields.password });
        else if (errorCode(error) === "CONFLICT") setErrors({ email: errorMessage(error) });
        else setErrors({ form: errorMessage(error) });
      },
    }),
  );

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const next: CreateErrors = {};
    const emailError = validateEmail(email);
    if (emailError) next.email = emailError;
    const passwordError = password === "" ? null : validatePassword(password);
    if (passwordError) next.password = passwordError;
    setErrors(next);
    if (Object.keys(next).length > 0) return;
    create.mutate({ email: email.trim(), role, tenantSlugs, password: password === "" ? undefined : password });
  }

  return (
    <section className="panel" aria-labelledby="create-user-heading">
      <h2 id="create-user-heading" style={{ marginBottom: 12 }}>
        Create user
      </h2>
      <form onSubmit={submit} noValidate aria-labelledby="create-user-heading">
        <div className="form-grid wide">
          <Field label="Email" type="email" autoComplete="off" value={email} onValueChange={setEmail} error={errors.email} required />
          <div className="field">
            <label htmlFor={roleId}>Role</label>
            <select id={roleId} value={role} onChange={(event) => setRole(event.target.value as Role)}>
              {ROLES.map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
            </select>
          </div>
          <Field
            label="Password"
            type="password"
            autoComplete="new-password"
            hint={`Optional; at least ${MIN_PASSWORD_LENGTH} characters. Empty: one is generated and shown once.`}
            value={password}
            onValueChange={setPassword}
            error={errors.password}
          />
        </div>
        <div style={{ marginTop: 12 }}>
          <TenantChecks
            legend={role === "admin" ? "Tenants (admins see all tenants anyway)" : "Tenants"}
            slugs={slugs}
            selected={tenantSlugs}
            onChange={setTenantSlugs}
          />
        </div>
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create user"}
          </button>
        </div>
      </form>
    </section>
  );
}

function EditMemberships({
  userId,
  email,
  initial,
  slugs,
  onDone,
}: {
  userId: number;
  email: string;
  initial: string[];
  slugs: string[];
  onDone: (saved: boolean) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [selected, setSelected] = useState<string[]>(initial);
  const [error, setError] = useState<string | null>(null);
  const save = useMutation(
    trpc.admin.setMemberships.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.admin.users.queryKey() });
        onDone(true);
      },
      onError: (failure) => setError(errorMessage(failure)),
    }),
  );
  return (
    <form
      aria-label={`Tenants of ${email}`}
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate({ userId, tenants: selected });
      }}
    >
      <TenantChecks legend={`Tenants of ${email}`} slugs={slugs} selected={selected} onChange={setSelected} />
      <FormError message={error} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save tenants"}
        </button>
        <button type="button" onClick={() => onDone(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
