import type { Metadata } from "next";
import { AdminTenantsView } from "@/components/views/admin-tenants.tsx";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Tenants" };

// Access is the procedures' business (admin.* and tenants.list); a viewer here sees their refusal.
export default function AdminTenantsPage() {
  return <AdminTenantsView />;
}
