/**
 * TIDEMARK_FAULT is test-only: the configuration refuses it outside
 * NODE_ENV=test unless the chaos flag is set, so a deployment cannot start
 * with a deliberate bug.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseEnv } from "./env-schema.ts";

const only = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;

describe("TIDEMARK_FAULT", () => {
  it("is refused in production and development", () => {
    for (const NODE_ENV of ["production", "development"]) {
      expect(() => parseEnv(only({ NODE_ENV, TIDEMARK_FAULT: "reverse-lock-order" }))).toThrow(ConfigError);
      expect(() => parseEnv(only({ NODE_ENV, TIDEMARK_FAULT: "reverse-lock-order" }))).toThrow(/TIDEMARK_FAULT: is test-only/);
    }
  });

  it("is accepted under NODE_ENV=test or with TIDEMARK_CHAOS=1", () => {
    expect(parseEnv(only({ NODE_ENV: "test", TIDEMARK_FAULT: "reverse-lock-order" })).TIDEMARK_FAULT).toBe("reverse-lock-order");
    expect(parseEnv(only({ NODE_ENV: "production", TIDEMARK_CHAOS: "1", TIDEMARK_FAULT: "reverse-lock-order" })).TIDEMARK_FAULT).toBe("reverse-lock-order");
  });

  it("names only known faults", () => {
    expect(() => parseEnv(only({ NODE_ENV: "test", TIDEMARK_FAULT: "drop-tables" }))).toThrow(/TIDEMARK_FAULT/);
  });

  it("is unset by default", () => {
    expect(parseEnv(only({})).TIDEMARK_FAULT).toBeUndefined();
  });
});
