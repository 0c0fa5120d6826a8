/**
 * Shared start-up of every command-line entry point, run before any module
 * that reads configuration is imported:
 * 1. validate the environment;
 * 2. when DATABASE_URL is unset, use the embedded PostgreSQL (started here
 *    if no process runs it yet) and put its URL into the environment;
 * 3. bring the schema up to date;
 * 4. seal any secret still stored in plaintext (left by a version before
 *    encryption at rest; idempotent, one transaction).
 * The key that seals secrets comes from TIDEMARK_SECRET_KEY, required with
 * DATABASE_URL; with the embedded PostgreSQL and no key given, it is the one
 * kept in .data/secret.key (generated at the first start, mode 0600).
 * Problems are thrown as BootstrapError with a one-line message; each entry
 * point reports it in its own format (a line of text, or JSON for the admin
 * CLI). Entry points then import server modules dynamically, so
 * server/env.ts sees the final environment.
 */
import pg from "pg";
import { ConfigError, parseEnv } from "../env-schema.ts";
import { keyringFromEnvironment, SecretBoxError } from "../secrets/secret-box.ts";
import { resealStoredSecrets } from "../secrets/stored-secrets.ts";
import { loadOrCreateSecretKey, SecretKeyFileError, secretKeyFile } from "../setup/secret-key-file.ts";
import { MigrationError, migrate } from "../setup/migrate.ts";
import { useEmbeddedPostgres, type EmbeddedDatabase } from "../setup/embedded-postgres.ts";

export interface Bootstrapped {
  databaseUrl: string;
  embedded: EmbeddedDatabase | null;
  /** The file the secret key came from (.data/secret.key), or null when it came from TIDEMARK_SECRET_KEY. */
  secretKeyFile: string | null;
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

  let keyFile: string | null = null;
  if (!process.env.DATABASE_URL && !process.env.TIDEMARK_SECRET_KEY?.trim()) {
    const keys = await loadOrCreateSecretKey().catch((error: unknown) => {
      const message = error instanceof SecretKeyFileError ? error.message : `cannot keep the secret key in ${secretKeyFile()}: ${(error as Error).message}`;
      throw new BootstrapError(message, "invalid_configuration");
    });
    keyFile = secretKeyFile();
    process.env.TIDEMARK_SECRET_KEY = keys.key;
    // A rotation that stopped between its commit and installing the new key: values may be under either.
    if (keys.pending && !process.env.TIDEMARK_PREVIOUS_SECRET_KEY) process.env.TIDEMARK_PREVIOUS_SECRET_KEY = keys.pending;
    if (keys.created) options.announce("generated the key that encrypts secrets at rest in .data/secret.key (mode 0600): back it up with the database");
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
    try {
      const sealed = await sealPlaintextSecrets(databaseUrl);
      if (sealed > 0) options.announce(`encrypted ${sealed} stored secret${sealed === 1 ? "" : "s"} under the secret key`);
    } catch (error) {
      await shutdown();
      if (error instanceof SecretBoxError) throw new BootstrapError(error.message, "invalid_configuration");
      throw new BootstrapError(`cannot encrypt the stored secrets at ${redact(databaseUrl)}: ${(error as Error).message}`, "unavailable");
    }
  }
  return { databaseUrl, embedded, secretKeyFile: keyFile, shutdown };
}

/** Seals, in one transaction, every secret still stored in plaintext; returns how many. */
async function sealPlaintextSecrets(databaseUrl: string): Promise<number> {
  const keyring = keyringFromEnvironment(parseEnv(process.env));
  const client = new pg.Client({ connectionString: databaseUrl, application_name: "tidemark-bootstrap" });
  await client.connect();
  try {
    await client.query("BEGIN");
    const { sealed } = await resealStoredSecrets(client, keyring, "plaintext");
    await client.query("COMMIT");
    return sealed;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
