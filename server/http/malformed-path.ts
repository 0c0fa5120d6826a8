/**
 * A request path that cannot be decoded, and its refusal: the production
 * server's node:http layer (server/http/fast-path.ts) answers such a path with
 * a 400 before Next.js routes it, since Next.js 16 itself answers it with a
 * 500 (its DecodeError's 400 page fails to render).
 */
import { AppError } from "../errors.ts";

/** True when the URL's path (the query aside) holds a percent-encoding that does not decode to UTF-8. */
export function hasMalformedPath(url: string | undefined): boolean {
  if (url === undefined || !url.includes("%")) return false;
  const query = url.indexOf("?");
  try {
    decodeURIComponent(query === -1 ? url : url.slice(0, query));
    return false;
  } catch {
    return true;
  }
}

/** The refusal of such a path (a 400 `bad_request` through the one error mapping). */
export function malformedPathError(): AppError {
  return new AppError("bad_request", "the request path's percent-encoding is malformed");
}
