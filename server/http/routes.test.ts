import { readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { OTHER_ROUTE, ROUTE_TEMPLATES, routeTemplate } from "./routes.ts";

const APP = path.resolve(import.meta.dirname, "../../app");

/** Every page and route handler under app/, as its URL template (route groups dropped). */
async function appTemplates(dir = APP): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await appTemplates(full)));
    else if (/^(page\.tsx|route\.ts)$/.test(entry.name)) {
      const segments = path
        .relative(APP, dir)
        .split(path.sep)
        .filter((segment) => segment !== "" && !/^\(.*\)$/.test(segment));
      found.push(`/${segments.join("/")}`);
    }
  }
  return found;
}

describe("route templates of the HTTP metrics", () => {
  it("name every page and route handler under app/", async () => {
    expect([...ROUTE_TEMPLATES].sort()).toEqual((await appTemplates()).sort());
  });

  it("name a path by its template, whatever its parameters and query", () => {
    expect(routeTemplate("/api/webhooks/acme")).toBe("/api/webhooks/[tenant]");
    expect(routeTemplate("/api/webhooks/acme/batch?x=1")).toBe("/api/webhooks/[tenant]/batch");
    expect(routeTemplate("/tenants/acme/items/item%2042")).toBe("/tenants/[slug]/items/[itemId]");
    expect(routeTemplate("/api/trpc/stats.series,items.list?batch=1")).toBe("/api/trpc/[trpc]");
    expect(routeTemplate("/")).toBe("/");
    expect(routeTemplate("/_next/static/chunks/app.js")).toBe("/_next/*");
  });

  it("put every unknown path under one label, so clients cannot grow the label set", () => {
    const labels = new Set(Array.from({ length: 1_000 }, (_, i) => routeTemplate(`/random/${i}/path`)));
    expect([...labels]).toEqual([OTHER_ROUTE]);
    expect(routeTemplate("/api/webhooks/")).toBe(OTHER_ROUTE);
  });
});
