"use client";
/**
 * A destructive or bulk action asks first, in place: the button turns into
 * the question with "Confirm" and "Cancel" (focus moves to Confirm; Escape
 * cancels). No window.confirm, so it is styled, testable and keyboard-clear.
 */
import { useEffect, useRef, useState } from "react";

export function ConfirmButton({
  label,
  question,
  confirmLabel = "Confirm",
  onConfirm,
  pending = false,
  danger = false,
  small = false,
  disabled = false,
  accessibleLabel,
}: {
  label: string;
  question: string;
  confirmLabel?: string;
  onConfirm: () => void;
  pending?: boolean;
  danger?: boolean;
  small?: boolean;
  disabled?: boolean;
  /** A longer name for screen readers when the visible label is ambiguous in a table ("Replay" → "Replay evt-1"). */
  accessibleLabel?: string;
}) {
  const [asking, setAsking] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const triggerRef = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);

  useEffect(() => {
    if (asking) confirmRef.current?.focus();
    else if (wasAsking.current) triggerRef.current?.focus();
    wasAsking.current = asking;
  }, [asking]);

  const size = small ? " small" : "";
  if (!asking) {
    return (
      <button
        ref={triggerRef}
        type="button"
        className={`${danger ? "danger" : ""}${size}`}
        onClick={() => setAsking(true)}
        disabled={disabled || pending}
        aria-label={accessibleLabel}
      >
        {pending ? `${label}…` : label}
      </button>
    );
  }
  return (
    <span
      className="row"
      role="group"
      aria-label={question}
      onKeyDown={(event) => {
        if (event.key === "Escape") setAsking(false);
      }}
    >
      <span className="small">{question}</span>
      <button
        ref={confirmRef}
        type="button"
        className={`${danger ? "danger" : "primary"}${size}`}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" className={size.trim()} onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
