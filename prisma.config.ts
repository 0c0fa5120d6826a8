// Prisma CLI configuration: the JavaScript schema engine over @prisma/adapter-pg,
// because the native engines cannot be downloaded where Tidemark is built and
// tested (only the npm registry is reachable there). Only `prisma generate` and `prisma migrate diff`
// are used; migrations are applied by server/setup/migrate.ts.
import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";

// The schema's datasource reads env("DATABASE_URL"). `prisma generate` never
// connects, but without the variable it cannot read the generator block, and
// then it tries to download a native query engine. Any well-formed URL does.
const databaseUrl = (process.env.DATABASE_URL ??= "postgresql://postgres@127.0.0.1:5432/postgres");

export default defineConfig({
  schema: "prisma/schema.prisma",
  experimental: { adapter: true },
  engine: "js",
  adapter: async () => new PrismaPg({ connectionString: databaseUrl }),
});
