import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { safeNextPath } from "@/components/auth/safe-next.ts";
import { SignInForm } from "@/components/auth/sign-in-form.tsx";
import { HealthBadge } from "@/components/health-badge.tsx";
import { getSessionUser } from "@/server/auth/current-user.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Sign in" };

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ next?: string | string[] }> }) {
  const next = safeNextPath((await searchParams).next);
  if (await getSessionUser()) redirect(next);
  return (
    <main className="auth-main">
      <h1 className="brand">
        <span className="brand-mark" aria-hidden="true" />
        Tidemark
      </h1>
      <SignInForm next={next} />
      <p className="auth-foot muted">
        Accounts are created by an admin. <HealthBadge />
      </p>
    </main>
  );
}
