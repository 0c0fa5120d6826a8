/**
 * The production webhook fast path in a process of its own, on the database
 * and Redis namespace the test put in the environment: "another app
 * process", for tests of what one process's change does to another's next
 * request. Prints {"url"} once listening; SIGTERM stops it.
 */
import { closeDatabase } from "../server/db.ts";
import { closeStore } from "../server/redis.ts";
import { serveFastPath } from "./webhooks.ts";

const server = await serveFastPath();
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

process.on("SIGTERM", () => {
  void server
    .close()
    .then(() => Promise.all([closeDatabase(), closeStore()]))
    .finally(() => process.exit(0));
});
