/**
 * Playwright fixtures: the app's URL comes from the config (baseURL); a
 * `tenant` is created fresh for each test, with a unique slug, through the
 * real admin CLI on the web server's database, so no two tests share a
 * tenant, its rate limit or its events.
 */
import { expect, test as base, type Page } from "@playwright/test";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Webhook } from "standardwebhooks";
import { e2eDatabaseUrl } from "./environment.ts";

export { E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD } from "./environment.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Runs `tidemark <args>` on the e2e database; resolves with its JSON lines, rejects with its stderr. */
export function tidemark(...args: string[]): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "server/cli/tidemark.ts"), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: e2eDatabaseUrl() },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`tidemark ${args.join(" ")} exited with ${code}: ${stderr}`));
      resolve(
        stdout
          .split("\n")
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Record<string, unknown>),
      );
    });
  });
}

export interface E2ETenant {
  slug: string;
  secret: string;
  webhookUrl: string;
}

/** Headers of a request signed the way a real sender signs: with the official library. */
export function signedHeaders(secret: string, body: string, id = `msg_${randomBytes(9).toString("hex")}`): Record<string, string> {
  const now = new Date();
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, now, body),
  };
}

export const test = base.extend<{ tenant: E2ETenant }>({
  tenant: async ({ baseURL }, use) => {
    const slug = `e2e-${randomBytes(4).toString("hex")}`;
    const [created] = await tidemark("tenant", "create", "--slug", slug);
    if (typeof created?.secret !== "string") throw new Error(`tenant create printed no secret for ${slug}`);
    await use({ slug, secret: created.secret, webhookUrl: `${baseURL}/api/webhooks/${slug}` });
  },
});

export { expect };

/** Signs in through the sign-in page and waits for the overview. */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Overview", level: 1 })).toBeVisible();
}
