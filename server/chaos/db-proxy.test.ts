/**
 * The proxy's reader of PostgreSQL's wire protocol finds the SQLSTATE of
 * every ErrorResponse, however the stream is cut into chunks, and nothing
 * in other messages (a row that happens to hold the bytes of an error).
 */
import { describe, expect, it } from "vitest";
import { ErrorResponseReader } from "./db-proxy.ts";

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function errorResponse(code: string): Buffer {
  return message("E", Buffer.from(`SERROR\0VERROR\0C${code}\0Mdeadlock detected\0\0`, "utf8"));
}

describe("ErrorResponseReader", () => {
  const stream = Buffer.concat([
    message("R", Buffer.from([0, 0, 0, 0])),
    message("D", Buffer.from(`\0\x01\0\0\0\x09C40P01\0xx`, "latin1")),
    errorResponse("40P01"),
    message("Z", Buffer.from("I")),
    errorResponse("40001"),
    message("C", Buffer.from("COMMIT\0")),
    errorResponse("23505"),
  ]);

  it("counts the codes of error responses only", () => {
    const seen: string[] = [];
    new ErrorResponseReader((code) => seen.push(code)).feed(stream);
    expect(seen).toEqual(["40P01", "40001", "23505"]);
  });

  it("gives the same codes whatever the chunking", () => {
    for (const size of [1, 2, 3, 5, 7, 13]) {
      const seen: string[] = [];
      const reader = new ErrorResponseReader((code) => seen.push(code));
      for (let at = 0; at < stream.length; at += size) reader.feed(stream.subarray(at, at + size));
      expect(seen).toEqual(["40P01", "40001", "23505"]);
    }
  });
});
