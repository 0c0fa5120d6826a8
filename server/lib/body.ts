/**
 * Request bodies with a byte limit enforced while reading: a declared
 * Content-Length over the limit is refused before a byte is read, and a body
 * that grows past the limit is cut off at that point, so an oversized upload
 * never sits in memory whole. Two readers, one rule: a web Request's stream
 * (Next.js route handlers) and node:http's IncomingMessage (the webhook fast
 * path, server/http/fast-path.ts), which is read without converting it to a
 * web stream.
 */
import type { IncomingMessage } from "node:http";
import { AppError } from "../errors.ts";

function tooLarge(limitBytes: number): AppError {
  return new AppError("payload_too_large", `body exceeds ${limitBytes} bytes`);
}

/** True when a Content-Type header names JSON (parameters such as charset allowed). */
export function isJsonContentType(type: string | null | undefined): boolean {
  if (!type) return false;
  const semicolon = type.indexOf(";");
  return (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase() === "application/json";
}

export function requireJsonContentType(request: Request): void {
  if (!isJsonContentType(request.headers.get("content-type"))) {
    throw new AppError("unsupported_media_type", "Content-Type must be application/json");
  }
}

function refuseDeclaredLength(declared: string | null | undefined, limitBytes: number): void {
  if (declared !== null && declared !== undefined && Number(declared) > limitBytes) throw tooLarge(limitBytes);
}

/** Reads a request's body, or a fetched response's (the collector reads pages with it). */
export async function readBodyWithLimit(request: Pick<Request, "headers" | "body">, limitBytes: number): Promise<Buffer> {
  refuseDeclaredLength(request.headers.get("content-length"), limitBytes);
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
      throw tooLarge(limitBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Reads a node:http request's body. Past the limit it stops reading (the
 * rest stays unread on the socket, which the caller must then close: the
 * fast path answers with `Connection: close`), never buffering more than
 * limitBytes plus one chunk. A client that goes away mid-body is a 400 that
 * nobody will read.
 */
export function readIncomingWithLimit(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  refuseDeclaredLength(request.headers["content-length"], limitBytes);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onError);
      request.off("aborted", onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        request.pause();
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = () => {
      cleanup();
      reject(new AppError("bad_request", "the request body was cut short"));
    };
    const onAborted = onError;
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onError);
    request.on("aborted", onAborted);
  });
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new AppError("invalid_json", "body is not valid JSON");
  }
}
