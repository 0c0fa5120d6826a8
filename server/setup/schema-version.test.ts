import { readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LATEST_MIGRATION } from "./schema-version.ts";

describe("the schema version readiness waits for", () => {
  it("is the newest migration directory", async () => {
    const dir = path.resolve(import.meta.dirname, "../../prisma/migrations");
    const names = (await readdir(dir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    expect(LATEST_MIGRATION).toBe(names.at(-1));
  });
});
