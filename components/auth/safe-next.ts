/**
 * Where to go after signing in: a path on this site, never another origin.
 *
 * The check is the URL parser's own, not a list of bad prefixes: the value is
 * resolved the way a browser resolves a link (WHATWG URL: tabs and newlines
 * dropped, backslashes read as slashes, dot segments removed, so
 * "/\tevil.example", "/\\evil" and "/.//evil" all reach for another host),
 * and only a result on the same origin is kept. What is returned is that
 * result's own serialisation (path, query, fragment), which is checked to
 * resolve to itself on the same origin again, so whoever follows it (a
 * redirect's Location, router.replace) gets exactly the path that was checked.
 */
const BASE = "http://next-path.invalid";

function sameOriginPath(value: string): string | null {
  // Only a path: "https://this-site/…" would pass the origin check below only by luck of the base.
  if (!value.startsWith("/")) return null;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return null;
  }
  if (url.origin !== BASE) return null;
  const path = `${url.pathname}${url.search}${url.hash}`;
  // "//x" as a path would be read as a host by the next parser; the serialisation must be a fixed point.
  if (!path.startsWith("/") || path.startsWith("//")) return null;
  const again = new URL(path, BASE);
  return again.origin === BASE && `${again.pathname}${again.search}${again.hash}` === path ? path : null;
}

export function safeNextPath(value: string | string[] | undefined | null): string {
  const next = Array.isArray(value) ? value[0] : value;
  if (typeof next !== "string" || next === "") return "/";
  const path = sameOriginPath(next);
  if (path === null) return "/";
  // Back to the sign-in page would be a loop.
  if (path === "/sign-in" || path.startsWith("/sign-in?") || path.startsWith("/sign-in#")) return "/";
  return path;
}
