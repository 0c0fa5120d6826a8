/**
 * Validated configuration: the only module that reads process.env (besides
 * the CLI entry points, which prepare it). Parsed once, at first import; a
 * bad value throws ConfigError, so nothing starts half-configured.
 */
import { ConfigError, parseEnv, type Env } from "./env-schema.ts";

export { ConfigError, type Env };

export const env: Env = parseEnv(process.env);

/** True while `next build` evaluates modules: nothing may connect then. */
export const isBuildPhase = env.NEXT_PHASE === "phase-production-build";

/** The database URL, or a clear error for a process that was started without one. */
export function requireDatabaseUrl(): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  throw new ConfigError(
    "DATABASE_URL is not set: `npm start` and `npm run tidemark` set it for the embedded PostgreSQL; other processes need it in their environment",
  );
}
