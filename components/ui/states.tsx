"use client";
/**
 * The three states every data view has besides "here is your data":
 * loading (a skeleton the size of the content), empty, and failed (with the
 * server's message and a retry). Access errors get words a person can act on.
 * Also the two messages forms show: a live result message, and a form-level
 * error.
 */
import type { CSSProperties, ReactNode } from "react";
import { errorCode, errorMessage } from "../errors.ts";

export function Skeleton({
  height,
  width = "100%",
  style,
  label,
}: {
  height: number | string;
  width?: number | string;
  style?: CSSProperties;
  label?: string;
}) {
  return (
    <div
      className="skeleton"
      style={{ height, width, ...style }}
      aria-hidden={label ? undefined : true}
      aria-label={label}
      role={label ? "status" : undefined}
    />
  );
}

/** What a failed query means to the reader. */
export function describeError(error: unknown, what = "this"): { title: string; detail: string; retryable: boolean } {
  switch (errorCode(error)) {
    case "FORBIDDEN":
      return { title: `You don't have access to ${what}`, detail: "Ask an admin to add you to it.", retryable: false };
    case "NOT_FOUND":
      return {
        title: `No such ${what === "this" ? "thing" : what.replace(/^this /, "")}`,
        detail: "Check the address, or go back to the overview.",
        retryable: false,
      };
    case "UNAUTHORIZED":
      return { title: "Your session has ended", detail: "Sign in again to continue.", retryable: false };
    case "SERVICE_UNAVAILABLE":
      return { title: "The database is unavailable", detail: errorMessage(error), retryable: true };
    default:
      return { title: "Could not load the data", detail: errorMessage(error), retryable: true };
  }
}

export function ErrorState({ error, onRetry, title, children }: { error: unknown; onRetry?: () => void; title?: string; children?: ReactNode }) {
  const described = describeError(error);
  return (
    <div className="notice bad state" role="alert">
      <h2>{title ?? described.title}</h2>
      <p>{described.detail}</p>
      {children}
      {onRetry && described.retryable ? (
        <p>
          <button type="button" onClick={onRetry}>
            Try again
          </button>
        </p>
      ) : null}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="panel state">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

/** An always-present polite live region: screen readers announce what is put in it. */
export function LiveMessage({ message, tone = "ok" }: { message: string | null; tone?: "ok" | "bad" | "info" }) {
  return (
    <div role="status" aria-live="polite" className={message ? `notice ${tone} live` : "live"}>
      {message}
    </div>
  );
}

/** A form's error that belongs to no single field; announced when it appears. */
export function FormError({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p className="notice bad small" role="alert">
      {message}
    </p>
  );
}
