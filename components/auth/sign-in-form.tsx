"use client";
/**
 * The sign-in form. Posts JSON to /api/auth/sign-in (which sets the httpOnly
 * session cookie) and shows the server's message as it is: it is
 * deliberately generic for wrong credentials, and says when to retry after
 * too many attempts.
 */
import { useRouter } from "next/navigation";
import { useRef, useState, type FormEvent } from "react";

interface ApiError {
  error?: { code?: string; message?: string };
}

function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export function SignInForm({ next }: { next: string }) {
  const router = useRouter();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const passwordRef = useRef<HTMLInputElement>(null);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setError(null);
    let response: Response;
    try {
      response = await fetch("/api/auth/sign-in", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: String(form.get("email") ?? ""), password: String(form.get("password") ?? "") }),
        credentials: "same-origin",
      });
    } catch {
      setError("Could not reach the server. Check your connection and try again.");
      setPending(false);
      return;
    }
    if (response.ok) {
      // Stay "Signing in…" while the dashboard loads.
      router.replace(next);
      router.refresh();
      return;
    }
    const body = (await response.json().catch(() => null)) as ApiError | null;
    let message = body?.error?.message ? sentence(body.error.message) : `Sign-in failed (HTTP ${response.status}).`;
    if (response.status === 429) {
      const retryAfter = Number(response.headers.get("retry-after"));
      if (Number.isFinite(retryAfter) && retryAfter > 0) message += ` You can try again in ${retryAfter} s.`;
    }
    setError(message);
    setPending(false);
    if (response.status === 401 && passwordRef.current) {
      passwordRef.current.value = "";
      passwordRef.current.focus();
    }
  }

  return (
    <form className="panel auth-card" onSubmit={onSubmit} aria-labelledby="sign-in-heading">
      <h2 id="sign-in-heading">Sign in</h2>
      <div className="field">
        <label htmlFor="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="username"
          inputMode="email"
          required
          autoFocus
          aria-describedby={error ? "sign-in-error" : undefined}
        />
      </div>
      <div className="field">
        <label htmlFor="password">Password</label>
        <input
          ref={passwordRef}
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          aria-describedby={error ? "sign-in-error" : undefined}
        />
      </div>
      <div role="alert" id="sign-in-error" className={error ? "notice bad" : undefined}>
        {error}
      </div>
      <button type="submit" className="primary" disabled={pending} aria-disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
