/**
 * The bench modes, in the order `npm run bench` runs them when none is named.
 * Adding a mode: a module exporting a BenchMode (see mode-ingest.ts), and one line here.
 *
 * Modes are loaded only when they run: their modules read the configuration,
 * which the harness prepares first (the bench's own database, Redis prefix).
 */
import type { BenchMode } from "./harness.ts";

export interface ModeEntry {
  name: string;
  summary: string;
  load(): Promise<BenchMode>;
}

export const MODES: readonly ModeEntry[] = [
  {
    name: "ingest",
    summary: "webhook events/s, single and 500-event batch, against node:http, Next.js no-op and raw INSERT floors",
    load: async () => (await import("./mode-ingest.ts")).ingest,
  },
  {
    name: "apply",
    summary: "events applied per second by the workers, against a raw multi-row upsert",
    load: async () => (await import("./mode-apply.ts")).apply,
  },
  {
    name: "tx",
    summary: "the core's transactions (ingest, apply, page commit) on raw pg and on Prisma's interactive transactions, interleaved",
    load: async () => (await import("./mode-tx.ts")).tx,
  },
  {
    name: "dashboard",
    summary: "the tenant page's series over 30 days of history, in-process and over HTTP; the overview's first data with 10,000 tenants",
    load: async () => (await import("./mode-dashboard.ts")).dashboard,
  },
  {
    name: "fairness",
    summary: "small tenants' latency beside a whale's backlog (p99 ratio, Jain's index)",
    load: async () => (await import("./mode-fairness.ts")).fairness,
  },
  {
    name: "cache",
    summary: "shared cache: loads per key per expiry (ours vs naive, 2 processes), and the item cache's hit ratio under the simulated feed",
    load: async () => (await import("./mode-cache.ts")).cache,
  },
];
