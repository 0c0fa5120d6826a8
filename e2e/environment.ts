/**
 * What the Playwright runner, the web server (e2e/serve.ts) and the test
 * workers must agree on, computed the same way in each. Playwright evaluates
 * playwright.config.ts in every one of its processes, and the web server and
 * workers inherit the runner's environment, so the run id the config sets
 * once in process.env names one database for all of them, without a file
 * that two concurrent runs could both write.
 */
import { randomBytes } from "node:crypto";
import { serverUrl, withDatabase } from "../test/database.ts";

export const E2E_ADMIN_EMAIL = "admin@e2e.test";
/** Fixed, so a test can sign in as the seeded admin; at least 12 characters, as ADMIN_PASSWORD requires. */
export const E2E_ADMIN_PASSWORD = "e2e-admin-password-1234";

export const E2E_PORT = Number(process.env.E2E_PORT ?? 3100);
export const E2E_BASE_URL = `http://127.0.0.1:${E2E_PORT}`;

/** This run's id: the one in the environment, or a new one (then put there for child processes). */
export function e2eRunId(): string {
  return (process.env.TIDEMARK_E2E_RUN ??= randomBytes(5).toString("hex"));
}

/** The run's key for secrets at rest (the app and the CLI the tests run must share it): the environment's, or a new one put there. */
export function e2eSecretKey(): string {
  return (process.env.TIDEMARK_SECRET_KEY ??= randomBytes(32).toString("base64"));
}

export function e2eDatabaseName(run = e2eRunId()): string {
  if (!/^[a-f0-9]{1,32}$/.test(run)) throw new Error(`TIDEMARK_E2E_RUN must be lowercase hex, got ${JSON.stringify(run)}`);
  return `tidemark_e2e_${run}`;
}

/** The run's database on the local server that test/database.ts creates test databases on. */
export function e2eDatabaseUrl(run = e2eRunId()): string {
  return withDatabase(serverUrl(), e2eDatabaseName(run));
}
