/**
 * The embedded default's key file (.data/secret.key): generated once, owner
 * only, the same key at every later start, and a rotation's pending key kept
 * until it is promoted. Run on a temporary directory of its own.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseSecretKey } from "../secrets/secret-box.ts";
import { loadOrCreateSecretKey, pendingSecretKey, promotePendingSecretKey, secretKeyFile } from "./secret-key-file.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "tidemark-key-"));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe("the secret key file", () => {
  it("is generated once with mode 0600, and every later start reads the same key", async () => {
    const first = await loadOrCreateSecretKey(dir);
    expect(first.created).toBe(true);
    expect(parseSecretKey(first.key)?.length).toBe(32);
    expect((await stat(secretKeyFile(dir))).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateSecretKey(dir);
    expect(again).toEqual({ key: first.key, pending: null, created: false });
  });

  it("two first starts at once agree on one key", async () => {
    const [a, b] = await Promise.all([loadOrCreateSecretKey(dir), loadOrCreateSecretKey(dir)]);
    expect(a.key).toBe(b.key);
    expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
  });

  it("a key file readable by others is narrowed to 0600; one that holds no key is refused in one line", async () => {
    await loadOrCreateSecretKey(dir);
    await chmod(secretKeyFile(dir), 0o644);
    await loadOrCreateSecretKey(dir);
    expect((await stat(secretKeyFile(dir))).mode & 0o777).toBe(0o600);
    await writeFile(secretKeyFile(dir), "not a key\n");
    await expect(loadOrCreateSecretKey(dir)).rejects.toThrow(/does not hold a key as Tidemark writes it .*restore it from a backup/);
  });

  it("a rotation's pending key is 0600, reused until promoted, seen by a start meanwhile, then becomes the key", async () => {
    const { key } = await loadOrCreateSecretKey(dir);
    const next = await pendingSecretKey(dir);
    expect(next).not.toBe(key);
    expect((await stat(`${secretKeyFile(dir)}.next`)).mode & 0o777).toBe(0o600);
    expect(await pendingSecretKey(dir)).toBe(next);
    expect(await loadOrCreateSecretKey(dir)).toEqual({ key, pending: next, created: false });
    await promotePendingSecretKey(dir);
    expect((await readFile(secretKeyFile(dir), "utf8")).trim()).toBe(next);
    expect(await loadOrCreateSecretKey(dir)).toEqual({ key: next, pending: null, created: false });
  });
});
