/**
 * Runs before each integration test file, ahead of its imports: gives the
 * file its own database (a clone of the migrated template) and its own Redis
 * key namespace, and points server/env.ts at them. afterAll closes the
 * file's clients and drops both.
 */
import { randomBytes } from "node:crypto";
import { afterAll } from "vitest";
import { createDatabase, dropDatabase, uniqueName } from "./database.ts";

const template = process.env.TIDEMARK_TEST_TEMPLATE;
if (!template) throw new Error("TIDEMARK_TEST_TEMPLATE is unset: run integration tests through vitest (test/global-setup.ts)");

const name = uniqueName("tidemark_t");
process.env.DATABASE_URL = await createDatabase(name, template);
process.env.REDIS_URL = process.env.TIDEMARK_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
process.env.REDIS_KEY_PREFIX = `tidemark-test:${randomBytes(5).toString("hex")}:`;

afterAll(async () => {
  const { closeDatabase } = await import("../server/db.ts");
  const { closeStore, store } = await import("../server/redis.ts");
  await store.clearNamespace();
  await closeStore();
  await closeDatabase();
  await dropDatabase(name);
});
