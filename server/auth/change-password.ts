/**
 * A signed-in user changes their own password.
 *
 * The current password is required (a session left open on a shared
 * machine is not enough to take the account over) and is checked under the
 * same brakes on guessing as sign-in (per account and address, and the
 * per-account slow-down). On success the new hash is stored, every
 * session of the user is revoked (a session someone else may hold ends now)
 * and a fresh one is created for the browser that made the change, all in
 * one transaction: either the password changed and the old sessions are
 * gone, or nothing changed.
 */
import { db } from "../db.ts";
import { AppError, type ErrorDetail } from "../errors.ts";
import { ZChangePasswordInput } from "../schemas/user.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { newSessionToken, userForSession } from "./session.ts";
import { limitPasswordGuesses } from "./sign-in.ts";

export const WRONG_CURRENT_PASSWORD = "the current password is incorrect";

/** A 422 naming each bad field, for the form to show beside it. */
function invalid(details: ErrorDetail[]): AppError {
  return new AppError("validation_failed", details.map((detail) => `${detail.path}: ${detail.message}`).join("; "), { details });
}

/** Changes the password of the session's user; returns the new session that replaces all of theirs. */
export async function changePassword(sessionToken: string | undefined, input: unknown, address: string): Promise<{ token: string; expiresAt: Date }> {
  const user = await userForSession(sessionToken);
  if (!user) throw new AppError("unauthorized", "sign in first");

  const parsed = ZChangePasswordInput.safeParse(input);
  if (!parsed.success) throw invalid(parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })));
  const { currentPassword, newPassword } = parsed.data;

  await limitPasswordGuesses(user.email, address);
  const { passwordHash } = await db.user.findUniqueOrThrow({ where: { id: user.id }, select: { passwordHash: true } });
  if (!(await verifyPassword(passwordHash, currentPassword))) throw invalid([{ path: "currentPassword", message: WRONG_CURRENT_PASSWORD }]);

  const newHash = await hashPassword(newPassword);
  const session = newSessionToken();
  await db.$transaction([
    db.user.update({ where: { id: user.id }, data: { passwordHash: newHash } }),
    db.session.deleteMany({ where: { userId: user.id } }),
    db.session.create({ data: { id: session.id, userId: user.id, expiresAt: session.expiresAt } }),
  ]);
  return { token: session.token, expiresAt: session.expiresAt };
}
