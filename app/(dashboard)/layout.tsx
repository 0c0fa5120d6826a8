// The signed-in area: no session, no dashboard. The header carries navigation (admin links for admins), the account link and sign-out.
import Link from "next/link";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { SignOutButton } from "@/components/auth/sign-out-button.tsx";
import { HealthBadge } from "@/components/health-badge.tsx";
import { MainNav } from "@/components/layout/main-nav.tsx";
import { TimeZoneNote } from "@/components/layout/time-zone-note.tsx";
import { getSessionUser } from "@/server/auth/current-user.ts";

export const dynamic = "force-dynamic";

export default async function DashboardLayout({ children }: { children: ReactNode }) {
  const user = await getSessionUser();
  if (!user) redirect("/sign-in");
  const isAdmin = user.role === "admin";
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="site-header-inner">
          <Link href="/" className="brand">
            <span className="brand-mark" aria-hidden="true" />
            Tidemark
          </Link>
          <MainNav isAdmin={isAdmin} />
          <div className="user-box">
            <Link href="/account" className="email" title={`${user.email}: account and password`}>
              {user.email}
            </Link>
            {isAdmin ? <span className="badge info">admin</span> : null}
            <SignOutButton />
          </div>
        </div>
      </header>
      <main id="main">{children}</main>
      <footer className="site-footer muted">
        <HealthBadge />
        <TimeZoneNote />
      </footer>
    </>
  );
}
