// ESLint, configured once: the Next.js rules (React, hooks, accessibility,
// Core Web Vitals), typescript-eslint with type information (so a promise
// nobody handles is an error, not a silent loss), Prettier for layout, and
// the import boundaries of docs/design.md ("Layout") as rules that fail the
// build. `npm run lint` runs it; `npm test` runs that first.
import nextVitals from "eslint-config-next/core-web-vitals";
import nextTypescript from "eslint-config-next/typescript";
import prettier from "eslint-config-prettier/flat";
import { defineConfig, globalIgnores } from "eslint/config";
import tseslint from "typescript-eslint";

/** Rooms of server/ and the rooms each may not import from (docs/design.md, "Layout"). */
const BOUNDARIES = [
  {
    target: "./server/core",
    from: ["./server/ingest", "./server/worker", "./server/stats", "./server/api", "./server/collector", "./server/cli"],
    message: "the processing core is pure of its callers: it imports nothing from ingest, worker, stats, api or the CLI",
  },
  {
    target: "./server/ingest",
    from: ["./server/worker", "./server/collector", "./server/api", "./server/cli"],
    message: "ingestion does not reach into the workers, the API or the CLI (signals go through server/lib)",
  },
  {
    target: "./server/collector",
    from: ["./server/worker", "./server/api", "./server/cli"],
    message: "the collector stores into the inbox as ingestion does; it does not reach into the workers, the API or the CLI",
  },
  {
    target: "./server/sim",
    from: ["./server/collector", "./server/worker", "./server/stats", "./server/api", "./server/cli"],
    message: "the simulated upstream stands outside Tidemark, as a tenant's system would: it speaks only the contracts",
  },
  {
    target: "./server/stats",
    from: ["./server/ingest", "./server/worker", "./server/collector", "./server/api", "./server/cli"],
    message: "the figures are written and read by callers; they import nothing from them",
  },
  {
    target: "./server/http",
    from: ["./server/worker", "./server/api", "./server/stats", "./server/cli"],
    message: "the HTTP edge adapts requests to the webhook handlers; it does not reach into the workers, the API, the figures or the CLI",
  },
  {
    target: "./server/thin",
    from: ["./server/ingest", "./server/worker", "./server/stats", "./server/api", "./server/cli"],
    message:
      "thin-event resolution is called by the worker and calls out to item APIs; it does not reach into ingestion, the workers, the figures, the API or the CLI",
  },
  {
    target: "./server/alerts",
    from: ["./server/worker", "./server/collector", "./server/api", "./server/cli"],
    message: "alerts read the figures and the source rows and deliver on their own; they do not reach into the workers, the collector, the API or the CLI",
  },
  {
    target: "./server/schemas",
    from: ["./server", "./components", "./app"],
    except: ["./schemas"],
    message: "server/schemas is client-safe: it imports only zod and its own modules",
  },
];

export default defineConfig([
  globalIgnores([
    "node_modules/**",
    ".next/**",
    ".data/**",
    "server/generated/**",
    "test-results/**",
    "playwright-report/**",
    "bench/results/**",
    "scratch/**",
    "next-env.d.ts",
  ]),
  ...nextVitals,
  ...nextTypescript,
  {
    files: ["**/*.{ts,tsx,mts}"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { attributes: false } }],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "no-empty": ["error", { allowEmptyCatch: false }],
      eqeqeq: ["error", "always"],
    },
  },
  {
    // The boundaries bind the modules; a test may drive a room through its callers (e.g. a
    // stats test that reads its figures through the tRPC router).
    files: ["server/**/*.{ts,tsx}"],
    ignores: ["**/*.test.ts"],
    rules: { "import/no-restricted-paths": ["error", { zones: BOUNDARIES }] },
  },
  {
    // React's hook rules read any `use…` call as a hook; outside React code they are Playwright
    // fixtures' `use` and names such as useEmbeddedPostgres.
    files: ["server/**", "e2e/**", "test/**"],
    rules: { "react-hooks/rules-of-hooks": "off" },
  },
  {
    // The browser gets the server's rules from the client-safe schemas; anything else from
    // server/ would drag server code (and secrets' handling) into the client bundle. Types are free.
    files: ["components/**/*.{ts,tsx}"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@/server/*", "!@/server/schemas"],
              allowTypeImports: true,
              message: "components import values from server/schemas only (import type for anything else)",
            },
            { group: ["../*server/*", "../../*server/*"], message: "use the @/server/… alias" },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.{mjs,js}"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  prettier,
]);
