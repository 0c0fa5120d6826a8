"use client";
/**
 * The items browser: search by id or name prefix (debounced, kept in the URL
 * as ?q=), tombstones on request (?deleted=1), and keyset pages of 50
 * ("Load more" asks for the items after the last id shown, so page 100
 * costs what page 1 costs).
 */
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useId } from "react";
import { formatCount, formatDateTime, formatPrecise } from "../format.ts";
import { useUrlSearch } from "../hooks/use-url-search.ts";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badges.tsx";
import { ErrorState, Skeleton, describeError } from "../ui/states.tsx";
import { Time } from "../ui/time.tsx";
import { ZTenantSlug } from "@/server/schemas/tenant.ts";

const PAGE_SIZE = 50;

export function itemHref(slug: string, itemId: string): string {
  return `/tenants/${slug}/items/${encodeURIComponent(itemId)}`;
}

export function ItemsView({ slug }: { slug: string }) {
  const trpc = useTRPC();
  const searchId = useId();
  // The box is local state (typing stays instant); the URL follows 300 ms after the last keystroke.
  const { text, setText, value: q, params, set } = useUrlSearch("q");
  const showDeleted = params.get("deleted") === "1";

  const valid = ZTenantSlug.safeParse(slug).success;
  const items = useInfiniteQuery({
    ...trpc.items.list.infiniteQueryOptions(
      { tenant: slug, search: q || undefined, includeDeleted: showDeleted, limit: PAGE_SIZE },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
    enabled: valid,
    placeholderData: keepPreviousData,
  });

  const rows = items.data?.pages.flatMap((page) => page.items) ?? [];
  const described = items.error ? describeError(items.error, "this tenant") : null;

  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href="/">Overview</Link> / <Link href={`/tenants/${slug}`}>{slug}</Link> / Items
      </nav>
      <div className="page-head">
        <div>
          <h1>Items</h1>
          <p className="muted small">
            Current state of each item of <span className="mono">{slug}</span>, by id.
          </p>
        </div>
      </div>

      {!valid || (described && !described.retryable) ? (
        <div className="notice bad state" role="alert">
          <h2>{valid && described ? described.title : "No such tenant"}</h2>
          <p>
            <Link href="/">Back to the overview</Link>
          </p>
        </div>
      ) : (
        <div className="stack">
          <form className="toolbar" role="search" onSubmit={(event) => event.preventDefault()} style={{ marginBottom: 0 }}>
            <div className="field" style={{ flex: "1 1 260px", maxWidth: 420 }}>
              <label htmlFor={searchId}>Search items</label>
              <input
                id={searchId}
                type="search"
                value={text}
                onChange={(event) => setText(event.target.value)}
                placeholder="id or name prefix, e.g. item-4"
                autoComplete="off"
                spellCheck={false}
                aria-describedby={`${searchId}-hint`}
              />
              <span className="hint" id={`${searchId}-hint`}>
                Matches the start of an id or a name (case-insensitive).
              </span>
            </div>
            <label className="check">
              <input type="checkbox" checked={showDeleted} onChange={(event) => set({ deleted: event.target.checked ? "1" : null })} />
              Show deleted
            </label>
          </form>

          <p role="status" aria-live="polite" className="muted small" style={{ margin: 0 }}>
            {items.isPending
              ? "Loading items…"
              : items.isError && !items.data
                ? ""
                : `${formatCount(rows.length)} item${rows.length === 1 ? "" : "s"}${items.hasNextPage ? " shown, more available" : ""}${q ? ` matching “${q}”` : ""}${
                    showDeleted ? ", including deleted" : ""
                  }${items.isPlaceholderData ? " (updating…)" : ""}`}
          </p>

          {items.isPending ? (
            <Skeleton height={320} />
          ) : items.isError && !items.data ? (
            <ErrorState error={items.error} onRetry={() => void items.refetch()} />
          ) : rows.length === 0 ? (
            <div className="panel state">
              <h2>{q ? `No items match “${q}”` : "No items yet"}</h2>
              <p className="muted">
                {q
                  ? "Search matches the beginning of an item id or name."
                  : "Items appear here once their events are processed. See the tenant page for how to send one."}
                {!showDeleted ? " Deleted items are hidden; tick “Show deleted” to include them." : ""}
              </p>
            </div>
          ) : (
            <>
              <div className="table-scroll" style={items.isPlaceholderData ? { opacity: 0.6 } : undefined}>
                <table className="data">
                  <caption className="visually-hidden">Items of {slug}</caption>
                  <thead>
                    <tr>
                      <th scope="col">ID</th>
                      <th scope="col" className="num">
                        Version
                      </th>
                      <th scope="col">Name</th>
                      <th scope="col">Category</th>
                      <th scope="col" className="num">
                        Value
                      </th>
                      <th scope="col">Updated</th>
                      <th scope="col">State</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((item) => (
                      <tr key={item.id}>
                        <th scope="row" className="wrap">
                          <Link className="mono" href={itemHref(slug, item.id)}>
                            {item.id}
                          </Link>
                        </th>
                        <td className="num">{formatCount(item.version)}</td>
                        <td className="wrap">{item.name ?? <span className="muted">—</span>}</td>
                        <td>{item.category ?? <span className="muted">—</span>}</td>
                        <td className="num">{formatPrecise(item.value)}</td>
                        <td>
                          <Time value={item.updatedAt} format={formatDateTime} />
                        </td>
                        <td>{item.deleted ? <Badge tone="bad">deleted</Badge> : <Badge tone="ok">live</Badge>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <div className="row">
                {items.hasNextPage ? (
                  <button type="button" onClick={() => void items.fetchNextPage()} disabled={items.isFetchingNextPage}>
                    {items.isFetchingNextPage ? "Loading…" : "Load more"}
                  </button>
                ) : (
                  <span className="muted small">End of the list.</span>
                )}
                {items.isFetchNextPageError ? (
                  <span role="alert" className="small" style={{ color: "var(--bad)" }}>
                    Could not load more: {describeError(items.error).detail}
                  </span>
                ) : null}
              </div>
            </>
          )}
        </div>
      )}
    </>
  );
}
