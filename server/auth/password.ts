/**
 * Password hashing with argon2id (OWASP's recommended parameters are the
 * library defaults: 19 MiB, 2 iterations). Hashes carry their parameters, so
 * they can be raised later without invalidating stored ones.
 */
import { hash, verify } from "@node-rs/argon2";
import { randomBytes } from "node:crypto";

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/** Constant-time within argon2; false (never a throw) for a malformed stored hash. */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}

/** A random password for accounts created without one; shown once. */
export function generatePassword(): string {
  return randomBytes(18).toString("base64url");
}
