/**
 * Changing one's password in Chromium against the real app: the form
 * explains a wrong current password beside the field, a change keeps this
 * browser signed in and signs out every other browser, and only the new
 * password signs in afterwards.
 */
import { randomBytes } from "node:crypto";
import { expect, signIn, test, tidemark } from "./fixtures.ts";

test("a user changes their password: this browser stays signed in, the others are signed out", async ({ browser }, testInfo) => {
  const email = `changer-${randomBytes(3).toString("hex")}@e2e.test`;
  const oldPassword = "the-first-password-123";
  const newPassword = "the-second-password-456";
  await tidemark("user", "create", "--email", email, "--role", "viewer", "--password", oldPassword);

  const here = await (await browser.newContext()).newPage();
  const elsewhere = await (await browser.newContext()).newPage();
  await signIn(here, email, oldPassword);
  await signIn(elsewhere, email, oldPassword);

  await here.getByRole("link", { name: email }).click();
  await expect(here.getByRole("heading", { name: "Account", level: 1 })).toBeVisible();
  const form = here.getByRole("form", { name: "Change password" });

  await form.getByLabel("Current password", { exact: true }).fill("not-the-password-at-all");
  await form.getByLabel("New password", { exact: true }).fill(newPassword);
  await form.getByLabel("Repeat the new password").fill(newPassword);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByText("the current password is incorrect")).toBeVisible();
  await here.screenshot({ path: testInfo.outputPath("account-page.png"), fullPage: true });

  await form.getByLabel("Current password", { exact: true }).fill(oldPassword);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(here.getByText(/Password changed/)).toBeVisible();

  // This browser got a new session; the other one's session is gone.
  await here.reload();
  await expect(here.getByRole("heading", { name: "Account", level: 1 })).toBeVisible();
  await elsewhere.goto("/");
  await expect(elsewhere).toHaveURL(/\/sign-in/);

  await elsewhere.getByLabel("Email").fill(email);
  await elsewhere.getByLabel("Password").fill(oldPassword);
  await elsewhere.getByRole("button", { name: "Sign in" }).click();
  await expect(elsewhere.getByText("Email or password is incorrect.")).toBeVisible();
  await signIn(elsewhere, email, newPassword);
});
