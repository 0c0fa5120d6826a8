/**
 * /api/metrics as a scraper reads it, in the test's own process: the route's
 * GET (this process's registry, with the gauges computed at the scrape).
 */
import { expect } from "vitest";
import { GET } from "../app/api/metrics/route.ts";

export async function scrapeMetrics(): Promise<string> {
  const response = await GET(new Request("http://app.test/api/metrics"));
  expect(response.status).toBe(200);
  return response.text();
}
