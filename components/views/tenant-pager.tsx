"use client";
/**
 * Paging through the tenants a user may see, for the overview and the admin
 * tenant list: one server-side page (tenants.page: most urgent first), a
 * search box over slugs and names, and Previous / Next. The search and the
 * page number live in the URL (?q=, ?page=), so a view can be shared; a new
 * search starts again at page 1. While the next page loads, the current one
 * stays on screen. Callers must sit inside <Suspense> (useSearchParams).
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useId } from "react";
import { formatCount } from "../format.ts";
import { useUrlSearch } from "../hooks/use-url-search.ts";
import { useTRPC } from "../trpc.ts";
import { DEFAULT_TENANT_PAGE_SIZE, TENANT_SEARCH_MAX_LENGTH } from "@/server/schemas/tenant.ts";

function parsePage(value: string | null): number {
  const page = Number(value);
  return Number.isInteger(page) && page >= 1 ? page : 1;
}

export function useTenantPage({ refetchInterval, pageSize = DEFAULT_TENANT_PAGE_SIZE }: { refetchInterval?: number; pageSize?: number } = {}) {
  const trpc = useTRPC();
  const search = useUrlSearch("q", ["page"]);
  const page = parsePage(search.params.get("page"));
  const query = useQuery({
    ...trpc.tenants.page.queryOptions({ search: search.value || undefined, offset: (page - 1) * pageSize, limit: pageSize }),
    refetchInterval,
    refetchIntervalInBackground: false,
    placeholderData: keepPreviousData,
  });
  const setPage = (next: number) => search.set({ page: next <= 1 ? null : String(next) });
  return { query, search, page, pageSize, setPage };
}

type TenantPageState = ReturnType<typeof useTenantPage>;

export function TenantSearch({ state, label = "Search tenants" }: { state: TenantPageState; label?: string }) {
  const id = useId();
  return (
    <form className="toolbar" role="search" onSubmit={(event) => event.preventDefault()} style={{ marginBottom: 0 }}>
      <div className="field" style={{ flex: "1 1 260px", maxWidth: 420 }}>
        <label htmlFor={id}>{label}</label>
        <input
          id={id}
          type="search"
          value={state.search.text}
          onChange={(event) => state.search.setText(event.target.value)}
          placeholder="slug or name, e.g. acme"
          autoComplete="off"
          spellCheck={false}
          maxLength={TENANT_SEARCH_MAX_LENGTH}
        />
      </div>
    </form>
  );
}

/** "Tenants 25–48 of 10,000", and Previous / Next. Most urgent first, so page 1 is where trouble shows. */
export function TenantPager({ state }: { state: TenantPageState }) {
  const data = state.query.data;
  if (!data || data.total === 0) return null;
  const first = data.offset + 1;
  const last = data.offset + data.tenants.length;
  const pages = Math.max(1, Math.ceil(data.total / state.pageSize));
  return (
    <nav className="row pager" aria-label="Tenant pages" style={{ gap: 8, alignItems: "center", margin: "12px 0" }}>
      <button type="button" className="small" disabled={state.page <= 1} onClick={() => state.setPage(state.page - 1)}>
        Previous
      </button>
      <span className="small muted" role="status" aria-live="polite">
        {data.tenants.length === 0
          ? `Page ${formatCount(state.page)} is past the last (${formatCount(pages)})`
          : `Tenants ${formatCount(first)}–${formatCount(last)} of ${formatCount(data.total)}`}
        {state.search.value ? ` matching “${state.search.value}”` : ""} · page {formatCount(Math.min(state.page, pages))} of {formatCount(pages)}
      </span>
      <button type="button" className="small" disabled={state.page >= pages} onClick={() => state.setPage(state.page + 1)}>
        Next
      </button>
    </nav>
  );
}
