import type { Metadata } from "next";
import { getSessionUser } from "@/server/auth/current-user.ts";
import { AdminUsersView } from "@/components/views/admin-users.tsx";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Users" };

export default async function AdminUsersPage() {
  const user = await getSessionUser();
  return <AdminUsersView currentUserId={user?.id ?? null} />;
}
