import path from "node:path";
import { defineConfig } from "vitest/config";

// Two projects: unit tests (no I/O) and integration tests (real PostgreSQL and
// Redis, a database per file). Files run in parallel across 2 forks; the
// integration files can because none shares a database or a key.
export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    pool: "forks",
    maxWorkers: 2,
    // A focused test (.only) fails the run instead of silently hiding the rest.
    allowOnly: false,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["{server,components,app}/**/*.test.{ts,tsx}"],
          exclude: ["**/*.integration.test.ts", "node_modules/**"],
          env: { NODE_ENV: "test" },
          // A hang guard, not a speed goal: property runs take seconds when the 2 cores are busy.
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["{server,app,test}/**/*.integration.test.ts"],
          globalSetup: ["test/global-setup.ts"],
          setupFiles: ["test/setup-integration.ts"],
          // Failure paths are exercised on purpose; their warnings would bury the report.
          env: { NODE_ENV: "test", LOG_LEVEL: "error" },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
