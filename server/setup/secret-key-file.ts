/**
 * The key that seals secrets at rest when Tidemark runs on its embedded
 * PostgreSQL (DATABASE_URL and TIDEMARK_SECRET_KEY unset): generated once
 * into .data/secret.key and read from there by every later start.
 *
 * Guarantees:
 * - The file is created with mode 0600 (only its owner, the user who ran the
 *   first start, can read it) and exclusively, so two first starts at once
 *   agree on one key; it is written and flushed before anything is sealed
 *   under it. A file found with a wider mode is narrowed to 0600.
 * - The key is never printed and never leaves .data/ (the embedded server
 *   runs as another user when Tidemark runs as root, and cannot read it).
 * - A rotation (`secrets rotate-key`) writes the new key to
 *   .data/secret.key.next before re-sealing anything and renames it over
 *   .data/secret.key after the commit; a start that finds .next (a rotation
 *   stopped between the two) opens values under either key.
 */
import { chmod, mkdir, open, readFile, rename, stat } from "node:fs/promises";
import path from "node:path";
import { generateSecretKey, parseSecretKey } from "../secrets/secret-box.ts";
import { DATA_DIR } from "./paths.ts";

export class SecretKeyFileError extends Error {
  override name = "SecretKeyFileError";
}

export function secretKeyFile(dataDir = DATA_DIR): string {
  return path.join(dataDir, "secret.key");
}

function pendingKeyFile(dataDir: string): string {
  return `${secretKeyFile(dataDir)}.next`;
}

async function readKey(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if (!parseSecretKey(text)) {
    throw new SecretKeyFileError(
      `${file} does not hold a key as Tidemark writes it (32 bytes in base64): restore it from a backup; without it the stored webhook secrets and source tokens cannot be read`,
    );
  }
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  return text.trim();
}

/** Writes `key` to `file`, mode 0600, flushed; with `exclusive`, fails with EEXIST if the file exists. */
async function writeKey(file: string, key: string, exclusive: boolean): Promise<void> {
  const handle = await open(file, exclusive ? "wx" : "w", 0o600);
  try {
    await handle.writeFile(`${key}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(file, 0o600);
}

export interface KeyFiles {
  key: string;
  /** The key of a rotation that did not finish, if any. */
  pending: string | null;
  created: boolean;
}

/** The key in .data/secret.key, generated (0600) if there is none. */
export async function loadOrCreateSecretKey(dataDir = DATA_DIR): Promise<KeyFiles> {
  await mkdir(dataDir, { recursive: true });
  const file = secretKeyFile(dataDir);
  let key = await readKey(file);
  let created = false;
  if (key === null) {
    try {
      await writeKey(file, generateSecretKey(), true);
      created = true;
    } catch (error) {
      // Another first start wrote it meanwhile: use theirs.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    key = await readKey(file);
    if (key === null) throw new SecretKeyFileError(`${file} vanished while it was being created: start again`);
  }
  return { key, pending: await readKey(pendingKeyFile(dataDir)), created };
}

/** The key a rotation moves to: the one a stopped rotation left, or a new one, written to .next first. */
export async function pendingSecretKey(dataDir = DATA_DIR): Promise<string> {
  const left = await readKey(pendingKeyFile(dataDir));
  if (left) return left;
  const key = generateSecretKey();
  await writeKey(pendingKeyFile(dataDir), key, true);
  return key;
}

/** After the commit that re-sealed everything under the pending key: it becomes the key. */
export async function promotePendingSecretKey(dataDir = DATA_DIR): Promise<void> {
  await rename(pendingKeyFile(dataDir), secretKeyFile(dataDir));
}
