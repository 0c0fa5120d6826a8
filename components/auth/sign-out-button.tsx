"use client";
// Ends the session on the server, forgets every cached answer of this user, and goes to sign-in.
import { useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";

export function SignOutButton() {
  const router = useRouter();
  const queryClient = useQueryClient();
  const [pending, setPending] = useState(false);
  const [failed, setFailed] = useState(false);

  async function signOut() {
    setPending(true);
    setFailed(false);
    try {
      const response = await fetch("/api/auth/sign-out", { method: "POST", credentials: "same-origin" });
      if (!response.ok) throw new Error(`sign-out answered ${response.status}`);
    } catch {
      setFailed(true);
      setPending(false);
      return;
    }
    queryClient.clear();
    router.replace("/sign-in");
    router.refresh();
  }

  return (
    <>
      <button type="button" className="small" onClick={signOut} disabled={pending}>
        {pending ? "Signing out…" : "Sign out"}
      </button>
      {failed ? (
        <span role="alert" className="small" style={{ color: "var(--bad)" }}>
          Sign-out failed; try again.
        </span>
      ) : null}
    </>
  );
}
