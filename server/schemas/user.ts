/**
 * The account rules both edges enforce: email, role, password length, and
 * what a password change needs. The server validates with these schemas and
 * the forms check with the same ones before sending, so each rule has one
 * home.
 *
 * Client-safe: imports only zod (no database, environment, Redis, logging or
 * node: built-ins), so browser bundles may import it.
 */
import { z } from "zod";

export const ROLES = ["admin", "viewer"] as const;
export type Role = (typeof ROLES)[number];
export const ZRole = z.enum(ROLES);

/** A user's id: the users table's int4 key, so a larger number is refused here rather than by the database. */
export const ZUserId = z.number().int().min(1).max(2_147_483_647);

/** Stored lower-cased, so sign-in is case-insensitive. */
export const ZEmail = z.email("must be an email address").transform((email) => email.toLowerCase());

export const MIN_PASSWORD_LENGTH = 12;
// Argon2 hashes any length, but hashing a megabyte per request is a cheap denial of service.
export const MAX_PASSWORD_LENGTH = 1_000;

export const ZPassword = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH.toLocaleString("en-US")} characters`);

/** A new account; without a password one is generated (and shown once). Tenants are named by slug. */
export const ZCreateUserInput = z.object({
  email: ZEmail,
  role: ZRole,
  password: ZPassword.optional(),
  tenantSlugs: z.array(z.string()).default([]),
});
export type TCreateUserInput = z.input<typeof ZCreateUserInput>;

export const DIFFERENT_PASSWORD = "must differ from the current password";

/** A signed-in user's password change. The current password is checked by the server, against its hash. */
export const ZChangePasswordInput = z
  .object({
    currentPassword: z.string().min(1, "required").max(MAX_PASSWORD_LENGTH),
    newPassword: ZPassword,
  })
  // zod runs this only when both fields passed, so a short new password is reported as short, not as "same".
  .refine((input) => input.newPassword !== input.currentPassword, { path: ["newPassword"], message: DIFFERENT_PASSWORD });
