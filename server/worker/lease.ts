/**
 * Lease renewal: while a claim's batch runs (thin fetches, the applying
 * transaction, retries), its claim rows' lease is renewed by heartbeat every
 * third of the lease, so a batch that runs longer than the lease keeps it
 * and no other worker's reaper returns its events. A worker that dies or
 * stalls stops renewing, and its lease expires within one lease.
 *
 * Renewal is an optimization of who does the work, never a condition of
 * correctness: the claim rows are the fence (server/worker/inbox.ts), so a
 * lease that expired anyway (a heartbeat that could not reach the database)
 * costs a second claim of the same events, never a second apply.
 */
import { faultActive } from "../faults.ts";
import { log, throttledLogger } from "../log.ts";
import { renewLease } from "./inbox.ts";

export interface HeldLease {
  claimId: string;
  leaseMs: number;
}

export interface Heartbeat {
  /** Stops renewing; resolves once a renewal in flight has finished. */
  stop(): Promise<void>;
}

const logRenewalError = throttledLogger(10_000);

/** Renews the claim's lease every leaseMs / 3 until stopped (or until the claim has no rows left). */
export function keepLease(lease: HeldLease): Heartbeat {
  // TEST-ONLY (server/faults.ts): the behaviour before heartbeats, to show what they prevent.
  if (faultActive("no-lease-heartbeat")) return { stop: () => Promise.resolve() };
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const renew = async () => {
    try {
      if (!(await renewLease(lease.claimId, lease.leaseMs))) stop();
    } catch (error) {
      logRenewalError(`renew`, () => log.warn({ module: "worker", err: (error as Error).message }, "could not renew a lease; it may expire"));
    }
  };
  const timer = setInterval(
    () => {
      // One renewal at a time: a renewal waits while the applying transaction holds the claim's rows.
      if (!stopped) inFlight = inFlight.then(renew);
    },
    Math.max(1, Math.floor(lease.leaseMs / 3)),
  );
  timer.unref();
  function stop() {
    stopped = true;
    clearInterval(timer);
  }
  return {
    async stop() {
      stop();
      await inFlight;
    },
  };
}
