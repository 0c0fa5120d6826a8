/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The build type-checks the app only; `npm test` type-checks everything, tests included.
  typescript: { tsconfigPath: "tsconfig.build.json" },
  // Loaded by Node at run time rather than bundled: native addons, binaries, worker threads.
  serverExternalPackages: ["pino", "pg", "ioredis", "@node-rs/argon2", "prom-client", "@prisma/adapter-pg"],
};

export default nextConfig;
