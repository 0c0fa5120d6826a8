/**
 * A retention round holds one pooled connection for its whole length (its
 * advisory lock is the connection's). When that connection is lost mid-round
 * (seen in `npm run chaos` when PostgreSQL was cut off: a worker process
 * ended on an unhandled 'error' event), the round fails as an error and the
 * process goes on: the connection's 'error' event is handled and the
 * connection is discarded, not returned to the pool. The control is the
 * unhandled case itself: the same event on a client without a listener throws.
 */
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { DEFAULT_RETENTION, runRetention } from "./retention.ts";

describe("a retention round whose connection is lost", () => {
  it("handles the connection's error event during the round", async () => {
    await createTestTenant();
    const connect = pool.connect.bind(pool);
    let client: pg.PoolClient | undefined;
    pool.connect = (async () => (client = await connect())) as typeof pool.connect;
    let emitted: unknown = null;
    try {
      await runRetention({
        ...DEFAULT_RETENTION,
        shouldStop: () => {
          try {
            client?.emit("error", new Error("read ECONNRESET (during the round)"));
          } catch (error) {
            emitted = error;
          }
          return true;
        },
      });
    } finally {
      pool.connect = connect;
    }
    expect(emitted).toBeNull();
    // Control: an 'error' event on a client nobody listens to throws (in a process: it ends it).
    client?.removeAllListeners("error");
    expect(() => client?.emit("error", new Error("read ECONNRESET (unhandled)"))).toThrow("unhandled");
  });
});
