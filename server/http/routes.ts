/**
 * The route templates of the app (app/**), for the HTTP metrics' `route`
 * label: a request's path is named by its template ("/tenants/[slug]/items"),
 * never by itself, so the label's values are this list plus `/_next/*` and
 * `other` whatever paths clients send. routes.test.ts fails when a page or a
 * route handler under app/ is missing here.
 */
export const ROUTE_TEMPLATES = [
  "/",
  "/account",
  "/admin/dead-letters",
  "/admin/tenants",
  "/admin/users",
  "/sign-in",
  "/tenants/[slug]",
  "/tenants/[slug]/items",
  "/tenants/[slug]/items/[itemId]",
  "/api/auth/password",
  "/api/auth/sign-in",
  "/api/auth/sign-out",
  "/api/health",
  "/api/metrics",
  "/api/noop",
  "/api/ready",
  "/api/sim/[feed]/events",
  "/api/sim/[feed]/items/[id]",
  "/api/trpc/[trpc]",
  "/api/webhooks/[tenant]",
  "/api/webhooks/[tenant]/batch",
] as const;

export const NEXT_ASSETS = "/_next/*";
export const OTHER_ROUTE = "other";

const compiled = ROUTE_TEMPLATES.map((template) => ({
  template,
  parts: template === "/" ? [] : template.slice(1).split("/"),
}));

/** The template a request path (query allowed) falls under, or `/_next/*`, or `other`. */
export function routeTemplate(url: string | undefined): string {
  if (url === undefined) return OTHER_ROUTE;
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  if (path.startsWith("/_next/")) return NEXT_ASSETS;
  const parts = path === "/" ? [] : path.replace(/^\/|\/$/g, "").split("/");
  for (const route of compiled) {
    if (route.parts.length !== parts.length) continue;
    if (route.parts.every((part, i) => (part.startsWith("[") ? parts[i] !== "" : part === parts[i]))) return route.template;
  }
  return OTHER_ROUTE;
}
