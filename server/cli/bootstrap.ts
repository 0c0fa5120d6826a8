/**
 * Shared start-up of every command-line entry point, run before any module
 * that reads configuration is imported:
 * 1. validate the environment;
 * 2. when DATABASE_URL is unset, use the embedded PostgreSQL (started here
 *    if no process runs it yet) and put its URL into the environment;
 * 3. bring the schema up to date.
 * Problems are thrown as BootstrapError with a one-line message; each entry
 * point reports it in its own format (a line of text, or JSON for the admin
 * CLI). Entry points then import server modules dynamically, so
 * server/env.ts sees the final environment.
 */
import { ConfigError, parseEnv } from "../env-schema.ts";
import { MigrationError, migrate } from "../setup/migrate.ts";
import { useEmbeddedPostgres, type EmbeddedDatabase } from "../setup/embedded-postgres.ts";

export interface Bootstrapped {
  databaseUrl: string;
  embedded: EmbeddedDatabase | null;
  /** Stops what bootstrap started (the embedded PostgreSQL, if this process owns it). */
  shutdown(): Promise<void>;
}

export class BootstrapError extends Error {
  override name = "BootstrapError";

  constructor(
    message: string,
    readonly code: "invalid_configuration" | "unavailable" | "migration_failed",
  ) {
    super(message);
  }
}

/** For entry points that report in plain text: the message on stderr as one line, exit 1. */
export function fail(message: string): never {
  process.stderr.write(`tidemark: ${message.replace(/\s*\n\s*/g, " ").trim()}\n`);
  process.exit(1);
}

export async function bootstrap(options: { announce: (line: string) => void; migrate?: boolean }): Promise<Bootstrapped> {
  try {
    parseEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new BootstrapError(error.message, "invalid_configuration");
    throw error;
  }

  let embedded: EmbeddedDatabase | null = null;
  if (!process.env.DATABASE_URL) {
    embedded = await useEmbeddedPostgres(options.announce).catch((error: unknown) => {
      throw new BootstrapError(error instanceof Error ? error.message : String(error), "unavailable");
    });
    process.env.DATABASE_URL = embedded.url;
  }
  const databaseUrl = process.env.DATABASE_URL as string;
  const shutdown = async () => {
    if (embedded?.owned) await embedded.stopUnlessInUse(options.announce);
  };

  if (options.migrate !== false) {
    try {
      const applied = await migrate(databaseUrl);
      for (const name of applied) options.announce(`applied migration ${name}`);
    } catch (error) {
      await shutdown();
      if (error instanceof MigrationError) throw new BootstrapError(error.message, "migration_failed");
      throw new BootstrapError(`cannot prepare the database at ${redact(databaseUrl)}: ${(error as Error).message}`, "unavailable");
    }
  }
  return { databaseUrl, embedded, shutdown };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
