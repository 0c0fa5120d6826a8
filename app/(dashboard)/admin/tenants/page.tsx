import type { Metadata } from "next";
import { Suspense } from "react";
import { Skeleton } from "@/components/ui/states.tsx";
import { AdminTenantsView } from "@/components/views/admin-tenants.tsx";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Tenants" };

// Access is the procedures' business (admin.* and tenants.page); a viewer here sees their refusal.
export default function AdminTenantsPage() {
  return (
    // The view keeps ?q= and ?page= in the URL (useSearchParams), which needs a Suspense boundary.
    <Suspense fallback={<Skeleton height={300} label="Loading tenants" />}>
      <AdminTenantsView />
    </Suspense>
  );
}
