import type { Metadata } from "next";
import { getSessionUser } from "@/server/auth/current-user.ts";
import { OverviewView } from "@/components/views/overview.tsx";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Overview" };

export default async function OverviewPage() {
  const user = await getSessionUser();
  return <OverviewView isAdmin={user?.role === "admin"} />;
}
