/**
 * Redirect targets that try to leave the origin, and a generator of more, for
 * the tests of safeNextPath: the unit property test (Node's WHATWG URL) and
 * e2e/security.spec.ts (Chromium's own URL parsing). Test data only.
 */
import fc from "fast-check";

/** Known ways out: protocol-relative, backslashes, stripped whitespace, dot segments, schemes, userinfo. */
export const ESCAPES = [
  "//evil.example",
  "///evil.example",
  "/\\evil.example",
  "\\\\evil.example",
  "\\/evil.example",
  "/\t/evil.example",
  "/\n/evil.example",
  "/\r\n/evil.example",
  "/%09/evil.example",
  "/%2F/evil.example",
  "/%5C/evil.example",
  "/./\\evil.example",
  "/.//evil.example",
  "/..//evil.example",
  "/a/..//evil.example",
  "/\t\\evil.example",
  " //evil.example",
  "\t//evil.example",
  "https://evil.example",
  "http:evil.example",
  "javascript:alert(1)",
  "/@evil.example",
  "//user@evil.example/",
  "/\u0000/evil.example",
  "//evil.example\u3002com",
  "//%65vil.example",
];

/** Strings over an alphabet of the characters that change how a URL parses. */
export const arbitraryNext = fc
  .array(
    fc.constantFrom(
      "/",
      "\\",
      "\t",
      "\n",
      "\r",
      " ",
      ".",
      "..",
      "%",
      "%09",
      "%2f",
      "%5c",
      "%2e",
      "@",
      ":",
      "?",
      "#",
      "evil.example",
      "a",
      "sign-in",
      "javascript:",
      "\u0000",
      "\u3002",
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((parts) => parts.join(""));
