import type { Metadata } from "next";
import { ChangePasswordForm } from "@/components/auth/change-password-form.tsx";
import { getSessionUser } from "@/server/auth/current-user.ts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Account" };

export default async function AccountPage() {
  // The layout has already sent anyone without a session to the sign-in page.
  const user = await getSessionUser();
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Account</h1>
          <p className="muted small">
            Signed in as <strong>{user?.email}</strong> ({user?.role}).
          </p>
        </div>
      </div>
      <div className="stack">
        <ChangePasswordForm />
      </div>
    </>
  );
}
