/**
 * The newest migration this code needs. Readiness (server/readiness.ts)
 * answers 503 until the database has it applied; a database migrated by a
 * newer release (more migrations) is still ready. A constant rather than a
 * directory listing, so the check works the same inside Next.js's bundle;
 * schema-version.test.ts fails when it is not the newest directory under
 * prisma/migrations.
 */
export const LATEST_MIGRATION = "20261204020000_tenant_by_itself";
