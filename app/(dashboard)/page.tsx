import type { Metadata } from "next";
import { Suspense } from "react";
import { getSessionUser } from "@/server/auth/current-user.ts";
import { Skeleton } from "@/components/ui/states.tsx";
import { OverviewView } from "@/components/views/overview.tsx";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Overview" };

export default async function OverviewPage() {
  const user = await getSessionUser();
  return (
    // The view keeps ?q= and ?page= in the URL (useSearchParams), which needs a Suspense boundary.
    <Suspense fallback={<Skeleton height={300} label="Loading the overview" />}>
      <OverviewView isAdmin={user?.role === "admin"} />
    </Suspense>
  );
}
