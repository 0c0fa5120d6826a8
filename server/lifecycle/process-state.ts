/**
 * What this process is doing, as readiness sees it: whether the in-app
 * workers are wanted and running, and whether the process is draining (told
 * to stop). Set only by server/app-lifecycle.ts; read by server/readiness.ts.
 *
 * Kept on globalThis: Next.js's bundle and the production server
 * (server/cli/serve.ts) load the modules separately and must see one state.
 */
export interface ProcessState {
  /** SIGTERM or SIGINT arrived: /api/ready answers 503 from then on. */
  draining: boolean;
  /** The in-app worker loops have started and have not been told to stop. */
  workersRunning: boolean;
}

const globalForState = globalThis as unknown as { tidemarkProcessState?: ProcessState };

export const processState: ProcessState = (globalForState.tidemarkProcessState ??= { draining: false, workersRunning: false });
