import type { Metadata } from "next";
import { Suspense } from "react";
import { Skeleton } from "@/components/ui/states.tsx";
import { ItemsView } from "@/components/views/items.tsx";

export const dynamic = "force-dynamic";

type Params = Promise<{ slug: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  return { title: `Items · ${(await params).slug}` };
}

export default async function ItemsPage({ params }: { params: Params }) {
  const { slug } = await params;
  return (
    // The view keeps ?q= and ?deleted= in the URL (useSearchParams), which needs a Suspense boundary.
    <Suspense fallback={<Skeleton height={400} label="Loading items" />}>
      <ItemsView slug={slug} />
    </Suspense>
  );
}
