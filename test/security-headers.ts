/**
 * What the security-header tests check on an answer (the integration test of
 * the production server's node:http layer and e2e/security.spec.ts): each
 * header of server/http/security-headers.ts with its exact value, and HSTS
 * present exactly when the request came over TLS. Returns the problems found,
 * so a test can show a server without the headers failing the same check.
 */
import { SECURITY_HEADERS, STRICT_TRANSPORT_SECURITY } from "../server/http/security-headers.ts";

export function securityHeaderProblems(headers: Headers, overTls: boolean): string[] {
  const problems: string[] = [];
  for (const [name, value] of SECURITY_HEADERS) {
    if (headers.get(name) !== value) problems.push(`${name}: ${JSON.stringify(headers.get(name))}`);
  }
  if (!(headers.get("content-security-policy") ?? "").includes("frame-ancestors 'none'")) problems.push("CSP without frame-ancestors 'none'");
  const [hsts, hstsValue] = STRICT_TRANSPORT_SECURITY;
  const sent = headers.get(hsts);
  if (overTls ? sent !== hstsValue : sent !== null) problems.push(`${hsts} ${overTls ? "missing over TLS" : "sent over plain HTTP"}: ${JSON.stringify(sent)}`);
  return problems;
}
