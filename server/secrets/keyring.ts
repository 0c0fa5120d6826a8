/**
 * The process's keyring for secrets at rest, built once from the validated
 * configuration: TIDEMARK_SECRET_KEY seals, and it or
 * TIDEMARK_PREVIOUS_SECRET_KEY opens. Built on first use, so a process that
 * never touches a secret does not need the key.
 */
import { env } from "../env.ts";
import { keyringFromEnvironment, type SecretKeyring } from "./secret-box.ts";

const globalForKeys = globalThis as unknown as { tidemarkKeyring?: SecretKeyring };

export function secretKeyring(): SecretKeyring {
  return (globalForKeys.tidemarkKeyring ??= keyringFromEnvironment(env));
}
