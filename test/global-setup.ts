/**
 * Once per `vitest run`: a migrated template database for the integration
 * files to clone. Its name is unique to the run, so two runs on one machine
 * do not collide; it is dropped at the end.
 */
import { migrate } from "../server/setup/migrate.ts";
import { createDatabase, dropDatabase, serverUrl, uniqueName } from "./database.ts";

export default async function setup(): Promise<() => Promise<void>> {
  // Pin the server before any file sets its own DATABASE_URL.
  process.env.TIDEMARK_TEST_SERVER_URL = serverUrl();
  const template = uniqueName("tidemark_tpl");
  const url = await createDatabase(template);
  await migrate(url);
  process.env.TIDEMARK_TEST_TEMPLATE = template;
  return async () => dropDatabase(template);
}
