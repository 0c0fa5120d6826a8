/**
 * Reads a request body with a byte limit enforced while reading: a declared
 * Content-Length over the limit is refused before a byte is read, and a body
 * that grows past the limit is cut off at that point, so an oversized upload
 * never sits in memory whole.
 */
import { AppError } from "../errors.ts";

export function requireJsonContentType(request: Request): void {
  const type = request.headers.get("content-type");
  const essence = type?.split(";")[0]?.trim().toLowerCase();
  if (essence !== "application/json") {
    throw new AppError("unsupported_media_type", "Content-Type must be application/json");
  }
}

/** Reads a request's body, or a fetched response's (the collector reads pages with it). */
export async function readBodyWithLimit(request: Pick<Request, "headers" | "body">, limitBytes: number): Promise<Buffer> {
  const tooLarge = () => new AppError("payload_too_large", `body exceeds ${limitBytes} bytes`);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limitBytes) throw tooLarge();
  if (!request.body) return Buffer.alloc(0);

  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limitBytes) {
      await reader.cancel("body too large");
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new AppError("invalid_json", "body is not valid JSON");
  }
}
