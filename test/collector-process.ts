/**
 * A collector in a process of its own, for the race tests: the real
 * Collector on the database and Redis namespace the test put in the
 * environment, with the settings given as JSON in argv[2]. With
 * `--cached-cursor` it is built with a cursor cache: the classic bug, which
 * the dirty-read control runs to show that the race test catches it. SIGTERM
 * stops it cleanly; the tests also kill it with SIGKILL.
 */
import { Collector, collectorOptionsFromEnv, type CollectorOptions } from "../server/collector/collector.ts";
import { closeDatabase } from "../server/db.ts";

const settings = JSON.parse(process.argv[2] ?? "{}") as Partial<CollectorOptions>;
const cached = process.argv.includes("--cached-cursor");

const collector = new Collector({ ...collectorOptionsFromEnv(), ...settings, cursorCache: cached ? new Map<number, string | null>() : undefined });
collector.start();
process.stdout.write(`${JSON.stringify({ owner: collector.owner })}\n`);

process.on("SIGTERM", () => {
  void collector
    .stop()
    .then(() => closeDatabase())
    .finally(() => process.exit(0));
});
