/**
 * Test-only fault injection: the one place that reads TIDEMARK_FAULT.
 *
 * A fault is a deliberate bug (the list and what each does: FAULTS in
 * server/env-schema.ts), used to show that `npm run chaos` and the tests
 * would catch it. server/env-schema.ts refuses the setting unless
 * NODE_ENV=test or TIDEMARK_CHAOS=1, so no deployment can start with one;
 * without it every call here is false and nothing changes.
 */
import { env } from "./env.ts";
import type { Fault } from "./env-schema.ts";

export type { Fault };

export function faultActive(fault: Fault): boolean {
  return env.TIDEMARK_FAULT === fault;
}
