import type { Metadata } from "next";
import { ItemView } from "@/components/views/item.tsx";

export const dynamic = "force-dynamic";

type Params = Promise<{ slug: string; itemId: string }>;

/** Item ids may hold any visible ASCII (`/`, `%`, `#`…); links encode them, and the segment arrives still encoded. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { slug, itemId } = await params;
  return { title: `${decodeSegment(itemId)} · ${slug}` };
}

export default async function ItemPage({ params }: { params: Params }) {
  const { slug, itemId } = await params;
  return <ItemView slug={slug} itemId={decodeSegment(itemId)} />;
}
