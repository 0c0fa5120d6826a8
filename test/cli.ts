/**
 * The admin CLI as an admin runs it, for integration tests: a child process
 * with this file's environment (its database, its Redis prefix, the test
 * secret key) plus overrides, judged by its exit status and its JSON lines.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "server/cli/tidemark.ts");

export interface CliResult {
  code: number | null;
  lines: Record<string, unknown>[];
  stdout: string;
  stderr: string;
}

export function runTidemark(overrides: Record<string, string>, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: ROOT, env: { ...process.env, ...overrides } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const lines = stdout
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, lines, stdout, stderr });
    });
  });
}

/** The one JSON error line the CLI writes to stderr on failure. */
export function cliError(result: CliResult): { code: string; message: string } {
  const line = result.stderr.split("\n").find((candidate) => candidate.startsWith("{"));
  if (!line) throw new Error(`no JSON error line on stderr: ${result.stderr}`);
  return (JSON.parse(line) as { error: { code: string; message: string } }).error;
}
