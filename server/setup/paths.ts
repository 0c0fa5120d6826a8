/**
 * Where things are on disk. Free of side effects, so any entry point can
 * import it without loading what the other setup modules load.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DATA_DIR = path.join(PROJECT_ROOT, ".data");
export const NEXT_BIN = path.join(PROJECT_ROOT, "node_modules", "next", "dist", "bin", "next");
/** The production server's entry point (`npm start` and the bench run it with tsx). */
export const SERVE_SCRIPT = path.join(PROJECT_ROOT, "server", "cli", "serve.ts");
/**
 * Where root keeps the embedded PostgreSQL of a project that the postgres
 * user cannot enter (see embedded-postgres.ts): one directory per project.
 */
export const EMBEDDED_POSTGRES_HOME = "/var/lib/tidemark";
