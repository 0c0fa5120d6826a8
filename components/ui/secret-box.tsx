"use client";
/**
 * A credential shown exactly once (a webhook secret, a generated password):
 * read-only, selectable, with a copy button and a warning that it will not
 * be shown again. The caller decides when to forget it.
 */
import { useId, useState, type ReactNode } from "react";

export function SecretBox({ label, value, children, onDismiss }: { label: string; value: string; children?: ReactNode; onDismiss: () => void }) {
  const id = useId();
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);

  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied("yes");
    } catch {
      // Clipboard access needs a secure context or permission; the text stays selectable.
      setCopied("failed");
    }
  }

  return (
    <div className="notice warn secret-box">
      <div className="field">
        <label htmlFor={id}>{label}</label>
        <div className="secret-row">
          <input id={id} readOnly value={value} spellCheck={false} autoComplete="off" onFocus={(event) => event.currentTarget.select()} />
          <button type="button" onClick={copy}>
            Copy
          </button>
        </div>
      </div>
      <p className="small live" role="status" aria-live="polite">
        {copied === "yes" ? "Copied to the clipboard." : copied === "failed" ? "Could not copy: select the text and copy it by hand." : ""}
      </p>
      <p>
        <strong>Save it now: it is shown only once.</strong> Tidemark stores it but will never display it again.
      </p>
      {children}
      <div>
        <button type="button" onClick={onDismiss}>
          Done, hide it
        </button>
      </div>
    </div>
  );
}
