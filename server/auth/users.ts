/**
 * User accounts: creation with a hashed password, roles and tenant memberships.
 * Emails are stored lower-cased, so sign-in is case-insensitive.
 */
import { db } from "../db.ts";
import { AppError } from "../errors.ts";
import { faultActive } from "../faults.ts";
import { Prisma } from "../generated/prisma/client.ts";
import { ZCreateUserInput, type Role, type TCreateUserInput } from "../schemas/user.ts";
import { findTenants } from "../tenants/service.ts";
import { generatePassword, hashPassword } from "./password.ts";

export interface CreatedUser {
  id: number;
  email: string;
  role: Role;
  /** Only when the password was generated: shown once, never stored in clear. */
  generatedPassword?: string;
}

export async function createUser(input: TCreateUserInput): Promise<CreatedUser> {
  const { email, role, password, tenantSlugs } = ZCreateUserInput.parse(input);
  const generatedPassword = password === undefined ? generatePassword() : undefined;
  const passwordHash = await hashPassword(password ?? (generatedPassword as string));
  const tenants = await findTenants(tenantSlugs);
  try {
    const user = await db.user.create({
      data: { email, role, passwordHash, memberships: { create: tenants.map((tenant) => ({ tenantId: tenant.id })) } },
      select: { id: true, email: true, role: true },
    });
    return { ...user, role: user.role as Role, ...(generatedPassword ? { generatedPassword } : {}) };
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") {
      throw new AppError("conflict", `a user with email ${email} already exists`);
    }
    throw error;
  }
}

export async function listUsers() {
  const users = await db.user.findMany({
    select: {
      id: true,
      email: true,
      role: true,
      createdAt: true,
      memberships: { select: { tenant: { select: { slug: true } } } },
      _count: { select: { sessions: true } },
    },
    orderBy: { email: "asc" },
  });
  return users.map((user) => ({
    id: user.id,
    email: user.email,
    role: user.role as Role,
    createdAt: user.createdAt,
    tenants: user.memberships.map((membership) => membership.tenant.slug).sort(),
    sessions: user._count.sessions,
  }));
}

/** Replaces the user's memberships with exactly `tenantSlugs`. */
export async function setMemberships(userId: number, tenantSlugs: string[]): Promise<void> {
  const tenants = await findTenants(tenantSlugs);
  try {
    await db.$transaction([
      db.membership.deleteMany({ where: { userId } }),
      db.membership.createMany({ data: tenants.map((tenant) => ({ userId, tenantId: tenant.id })) }),
    ]);
  } catch (error) {
    // The memberships' foreign key refused the user: there is no such user (or it was deleted meanwhile).
    if ((error as { code?: unknown }).code === "P2003") throw new AppError("not_found", "no such user");
    throw error;
  }
}

/**
 * Deletes a user (and with it their sessions and memberships). Nobody deletes themselves, only a user who is
 * still an admin deletes anyone, and the last admin is never deleted, not even by two admins deleting each other
 * at once: every admin row is locked (FOR UPDATE, in id order, so concurrent deletions queue rather than
 * deadlock) before the admins are counted, so each deletion counts what the one before it left.
 */
export async function deleteUser(userId: number, actingUserId: number): Promise<void> {
  if (userId === actingUserId) throw new AppError("conflict", "you cannot delete your own account");
  await db.$transaction(async (tx) => {
    const admins = faultActive("unlocked-last-admin")
      ? await tx.$queryRaw<{ id: number }[]>`SELECT id FROM users WHERE role = 'admin' ORDER BY id`
      : await tx.$queryRaw<{ id: number }[]>`SELECT id FROM users WHERE role = 'admin' ORDER BY id FOR UPDATE`;
    // The acting admin may have been deleted (or demoted) by a deletion that committed while this one waited.
    if (!admins.some((admin) => admin.id === actingUserId)) throw new AppError("forbidden", "only an admin can delete users");
    const user = await tx.user.findUnique({ where: { id: userId }, select: { role: true } });
    if (!user) throw new AppError("not_found", "no such user");
    if (user.role === "admin" && admins.length <= 1) throw new AppError("conflict", "the last admin cannot be deleted");
    await tx.user.delete({ where: { id: userId } });
  });
}
