/**
 * End-to-end tests: the real app (built and started by the real start path,
 * e2e/serve.ts, on a database of its own) in Debian's Chromium, because
 * Playwright's own browser downloads cannot be reached from these machines.
 */
import { defineConfig } from "@playwright/test";
import { E2E_BASE_URL, e2eRunId, e2eSecretKey } from "./e2e/environment.ts";

// Set once here, in the runner; the web server and the workers inherit them (see e2e/environment.ts).
e2eRunId();
e2eSecretKey();

export default defineConfig({
  testDir: "e2e",
  forbidOnly: !!process.env.CI,
  retries: 0,
  // One app, one database: tests stay independent through unique tenants, not through parallel servers.
  workers: 1,
  reporter: [["list"], ["html", { open: "never" }]],
  use: {
    baseURL: E2E_BASE_URL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
  webServer: {
    command: "node --import tsx e2e/serve.ts",
    url: `${E2E_BASE_URL}/api/health`,
    // The first start builds the app with `next build`: 30–60 s here, more on a busy machine.
    timeout: 300_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    // SIGTERM lets serve.ts stop the app and drop its database; SIGKILL (the default) would leave it behind.
    gracefulShutdown: { signal: "SIGTERM", timeout: 30_000 },
  },
});
