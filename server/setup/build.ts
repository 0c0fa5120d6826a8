/**
 * "Build if needed" for `npm start`: the production build is reused while the
 * sources it was built from are unchanged, judged by a SHA-256 over the
 * contents of every file that goes into it (not mtimes, which a fresh clone
 * resets). A stale or missing build is rebuilt with `next build`.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { NEXT_BIN, PROJECT_ROOT } from "./paths.ts";

const BUILD_INPUTS = [
  "app",
  "components",
  "server",
  "instrumentation.ts",
  "next.config.mjs",
  "tsconfig.json",
  "tsconfig.build.json",
  "package-lock.json",
  "prisma/schema.prisma",
];
// Not part of the build (tsconfig.build.json leaves them out): editing them must not force a rebuild.
const IGNORED = new Set(["generated", "node_modules", "cli", "bench", "chaos"]);
const STAMP_FILE = path.join(PROJECT_ROOT, ".next", "tidemark-build.sha256");

async function listFiles(relative: string): Promise<string[]> {
  const absolute = path.join(PROJECT_ROOT, relative);
  if (!existsSync(absolute)) return [];
  const entries = await readdir(absolute, { withFileTypes: true }).catch(() => null);
  if (entries === null) return [relative];
  const nested = await Promise.all(
    entries.filter((entry) => !IGNORED.has(entry.name) && !/\.test\.tsx?$/.test(entry.name)).map((entry) => listFiles(path.join(relative, entry.name))),
  );
  return nested.flat();
}

export async function sourceFingerprint(): Promise<string> {
  const files = (await Promise.all(BUILD_INPUTS.map(listFiles))).flat().sort();
  const hash = createHash("sha256");
  for (const file of files) {
    hash
      .update(file)
      .update("\0")
      .update(await readFile(path.join(PROJECT_ROOT, file)))
      .update("\0");
  }
  return hash.digest("hex");
}

export async function isBuildCurrent(fingerprint: string): Promise<boolean> {
  if (!existsSync(path.join(PROJECT_ROOT, ".next", "BUILD_ID")) || !existsSync(STAMP_FILE)) return false;
  return (await readFile(STAMP_FILE, "utf8")).trim() === fingerprint;
}

export function runNextBuild(env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NEXT_BIN, "build"], { cwd: PROJECT_ROOT, env, stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`next build exited with code ${code}`))));
  });
}

/** Builds unless the existing build matches the sources; returns whether it built. */
export { NEXT_BIN };

export async function buildIfNeeded(env: NodeJS.ProcessEnv, announce: (line: string) => void): Promise<boolean> {
  const fingerprint = await sourceFingerprint();
  if (await isBuildCurrent(fingerprint)) return false;
  announce("building the app (first start, or the sources changed)…");
  await runNextBuild(env);
  await writeFile(STAMP_FILE, `${fingerprint}\n`);
  return true;
}
