/**
 * The import boundaries of docs/design.md ("Layout") are ESLint rules
 * (eslint.config.mjs). This proves the rules can fail: each forbidden import,
 * linted as if it were in the room it must not be in, is an error, and the
 * allowed direction is not.
 */
import path from "node:path";
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
// Type information is not what these rules need, and a file that does not exist has none.
const eslint = new ESLint({ cwd: root, overrideConfig: [tseslint.configs.disableTypeChecked] });

async function boundaryErrors(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(root, file) });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === "import/no-restricted-paths" || message.ruleId === "@typescript-eslint/no-restricted-imports")
    .map((message) => message.message);
}

// The first lint loads the whole ESLint configuration (plugins, resolver): seconds on a busy machine.
describe("import boundaries", { timeout: 60_000 }, () => {
  it.each([
    ["server/core/probe.ts", 'import { parseEvent } from "../ingest/envelope.ts";\nexport const x = parseEvent;\n'],
    ["server/core/probe.ts", 'import { claimNext } from "../worker/scheduler.ts";\nexport const x = claimNext;\n'],
    ["server/core/probe.ts", 'import { getSeries } from "../stats/series.ts";\nexport const x = getSeries;\n'],
    ["server/core/probe.ts", 'import { appRouter } from "../api/root.ts";\nexport const x = appRouter;\n'],
    ["server/ingest/probe.ts", 'import { replayDead } from "../worker/dead-letters.ts";\nexport const x = replayDead;\n'],
    ["server/stats/probe.ts", 'import { handleWebhook } from "../ingest/webhook.ts";\nexport const x = handleWebhook;\n'],
    ["server/collector/probe.ts", 'import { claimNext } from "../worker/scheduler.ts";\nexport const x = claimNext;\n'],
    ["server/ingest/probe.ts", 'import { Collector } from "../collector/collector.ts";\nexport const x = Collector;\n'],
    ["server/sim/probe.ts", 'import { setSource } from "../collector/sources.ts";\nexport const x = setSource;\n'],
    ["server/http/probe.ts", 'import { replayDead } from "../worker/dead-letters.ts";\nexport const x = replayDead;\n'],
    ["server/thin/probe.ts", 'import { processClaim } from "../worker/process.ts";\nexport const x = processClaim;\n'],
    ["server/alerts/probe.ts", 'import { appRouter } from "../api/root.ts";\nexport const x = appRouter;\n'],
    ["components/probe.ts", 'import { db } from "@/server/db.ts";\nexport const x = db;\n'],
  ])("%s may not import this: %s", async (file, source) => {
    expect(await boundaryErrors(file, source)).toHaveLength(1);
  });

  it.each([
    ["server/worker/probe.ts", 'import { applyBatch } from "../core/apply.ts";\nexport const x = applyBatch;\n'],
    ["server/ingest/probe.ts", 'import { ZEventBody } from "../core/event.ts";\nexport const x = ZEventBody;\n'],
    ["server/http/probe.ts", 'import { handleWebhook } from "../ingest/webhook.ts";\nexport const x = handleWebhook;\n'],
    ["components/probe.ts", 'import type { AppRouter } from "@/server/api/root.ts";\nexport type X = AppRouter;\n'],
    ["components/probe.ts", 'import { ZQuotas } from "@/server/schemas/tenant.ts";\nexport const x = ZQuotas;\n'],
    ["server/collector/probe.ts", 'import { storeEvents } from "../ingest/store-events.ts";\nexport const x = storeEvents;\n'],
    ["server/worker/probe.ts", 'import { resolveThinEvents } from "../thin/resolve.ts";\nexport const x = resolveThinEvents;\n'],
  ])("%s may import this: %s", async (file, source) => {
    expect(await boundaryErrors(file, source)).toEqual([]);
  });
});
