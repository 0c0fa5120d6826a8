// Next.js calls register() once per server process. NEXT_RUNTIME is a
// build-time constant Next.js inlines (not configuration): it keeps the
// worker, and its Node.js-only imports, out of any edge bundle.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { startApp } = await import("./server/app-lifecycle.ts");
    await startApp();
  }
}
