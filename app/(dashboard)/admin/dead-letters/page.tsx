import type { Metadata } from "next";
import { Suspense } from "react";
import { Skeleton } from "@/components/ui/states.tsx";
import { AdminDeadLettersView } from "@/components/views/admin-dead-letters.tsx";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Dead letters" };

export default function AdminDeadLettersPage() {
  return (
    // The selected tenant is kept in ?tenant= (useSearchParams), which needs a Suspense boundary.
    <Suspense fallback={<Skeleton height={300} label="Loading dead letters" />}>
      <AdminDeadLettersView />
    </Suspense>
  );
}
