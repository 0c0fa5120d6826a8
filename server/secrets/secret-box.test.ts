import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isSealed, keyringOf, open, parseSecretKey, seal, sealedKeyId, SecretBoxError } from "./secret-box.ts";

const keyA = randomBytes(32).toString("base64");
const keyB = randomBytes(32).toString("base64");
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

describe("secret box", () => {
  it("a sealed value opens to the plaintext and holds no trace of it", () => {
    const keyring = keyringOf(keyA);
    const sealed = seal(keyring, "webhook-secret", secret);
    expect(sealed).toMatch(/^tmk1:[0-9a-f]{8}:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(secret.slice("whsec_".length));
    expect(isSealed(sealed)).toBe(true);
    expect(isSealed(secret)).toBe(false);
    expect(open(keyring, "webhook-secret", sealed)).toBe(secret);
  });

  it("sealing twice gives two ciphertexts (a fresh IV each time)", () => {
    const keyring = keyringOf(keyA);
    expect(seal(keyring, "source-token", "t")).not.toBe(seal(keyring, "source-token", "t"));
  });

  it("a changed byte, another purpose or another key id fails to open", () => {
    const keyring = keyringOf(keyA);
    const sealed = seal(keyring, "webhook-secret", secret);
    const body = sealed.slice(sealed.lastIndexOf(":") + 1);
    const flipped = `${sealed.slice(0, sealed.lastIndexOf(":") + 1)}${body[0] === "A" ? "B" : "A"}${body.slice(1)}`;
    expect(() => open(keyring, "webhook-secret", flipped)).toThrow(SecretBoxError);
    expect(() => open(keyring, "source-token", sealed)).toThrow(/fails authentication/);
    const other = keyringOf(keyB, [keyA]);
    const relabelled = sealed.replace(/^tmk1:[0-9a-f]{8}:/, `tmk1:${other.current.id}:`);
    expect(() => open(other, "webhook-secret", relabelled)).toThrow(/fails authentication/);
  });

  it("a keyring with the previous key opens old values and seals under the new one; without it, the old key is named", () => {
    const old = seal(keyringOf(keyA), "webhook-secret", secret);
    const rotated = keyringOf(keyB, [keyA]);
    expect(open(rotated, "webhook-secret", old)).toBe(secret);
    expect(sealedKeyId(seal(rotated, "webhook-secret", secret))).toBe(rotated.current.id);
    expect(() => open(keyringOf(keyB), "webhook-secret", old)).toThrow(new RegExp(`key ${sealedKeyId(old)}, which is not configured`));
  });

  it("a plaintext value is refused, not passed through", () => {
    expect(() => open(keyringOf(keyA), "webhook-secret", secret)).toThrow(/is not sealed/);
  });

  it("keys are 32 bytes in base64 or base64url; anything else is refused", () => {
    expect(parseSecretKey(keyA)?.length).toBe(32);
    expect(parseSecretKey(Buffer.from(keyA, "base64").toString("base64url"))?.length).toBe(32);
    expect(parseSecretKey(randomBytes(31).toString("base64"))).toBeNull();
    expect(parseSecretKey(randomBytes(33).toString("base64"))).toBeNull();
    expect(parseSecretKey("x".repeat(44))).toBeNull();
    expect(() => keyringOf("short")).toThrow(/32 bytes in base64/);
  });
});
