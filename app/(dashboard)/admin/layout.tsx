// Admin pages for admins. The procedures refuse anyone else regardless; this only spares a viewer forms that cannot work.
import Link from "next/link";
import type { ReactNode } from "react";
import { getSessionUser } from "@/server/auth/current-user.ts";

export const dynamic = "force-dynamic";

export default async function AdminLayout({ children }: { children: ReactNode }) {
  const user = await getSessionUser();
  if (user?.role !== "admin") {
    return (
      <div className="notice bad state" role="alert">
        <h1>Admins only</h1>
        <p>
          This page is for admins. <Link href="/">Back to the overview</Link>
        </p>
      </div>
    );
  }
  return children;
}
