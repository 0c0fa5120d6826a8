"use client";
/**
 * The panel where a table row's form opens ("Edit quotas", "Edit tenants"),
 * outside the table so it is never squeezed into, or scrolled sideways
 * with, a wide table on a phone. Opening it moves focus to its first field;
 * closing it (Escape, Cancel, done) gives focus back to the button that
 * opened it.
 */
import { useEffect, useRef, type ReactNode } from "react";

export function EditorPanel({
  id,
  returnFocusTo,
  onClose,
  children,
}: {
  id: string;
  returnFocusTo: HTMLElement | null;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const opener = useRef(returnFocusTo);
  useEffect(() => {
    ref.current?.querySelector<HTMLElement>("input, select, button")?.focus();
    const returnTo = opener.current;
    return () => {
      if (returnTo?.isConnected) returnTo.focus();
    };
  }, []);
  return (
    <div
      ref={ref}
      id={id}
      className="panel editor-panel"
      onKeyDown={(event) => {
        if (event.key === "Escape") onClose();
      }}
    >
      {children}
    </div>
  );
}
