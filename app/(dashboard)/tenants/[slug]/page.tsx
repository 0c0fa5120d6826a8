import type { Metadata } from "next";
import { Suspense } from "react";
import { getSessionUser } from "@/server/auth/current-user.ts";
import { Skeleton } from "@/components/ui/states.tsx";
import { TenantView } from "@/components/views/tenant.tsx";

export const dynamic = "force-dynamic";

type Params = Promise<{ slug: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  return { title: (await params).slug };
}

export default async function TenantPage({ params }: { params: Params }) {
  const { slug } = await params;
  const user = await getSessionUser();
  return (
    // The view reads ?range= (useSearchParams), which Next requires under a Suspense boundary.
    <Suspense fallback={<Skeleton height={480} label="Loading tenant" />}>
      <TenantView slug={slug} isAdmin={user?.role === "admin"} />
    </Suspense>
  );
}
