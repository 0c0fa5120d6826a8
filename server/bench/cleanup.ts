/**
 * Undo steps for what the bench starts or creates (app processes, database,
 * Redis keys), run in reverse order of registration, each at most once.
 *
 * run() is idempotent and safe to call from a signal handler while the main
 * flow is still going: both await the same pass. Once it has begun, nothing
 * new may start: add() then undoes its step at once (run() waits for that
 * too) and throws BenchStopping, which ends the caller's flow. A failing
 * step is reported on stderr and the remaining steps still run.
 */
export class BenchStopping extends Error {
  override name = "BenchStopping";
}

interface Step {
  label: string;
  undo: () => Promise<void>;
}

export class Cleanup {
  private readonly steps: Step[] = [];
  private readonly late: Promise<void>[] = [];
  private pass: Promise<void> | null = null;

  get stopping(): boolean {
    return this.pass !== null;
  }

  /** Registers `undo`; returns a function that runs it now (once) and unregisters it. */
  add(label: string, undo: () => Promise<void>): () => Promise<void> {
    const step = { label, undo };
    if (this.pass) {
      this.late.push(runStep(step));
      throw new BenchStopping(`the bench is stopping (undid "${label}")`);
    }
    this.steps.push(step);
    return async () => {
      const index = this.steps.indexOf(step);
      if (index === -1) return;
      this.steps.splice(index, 1);
      await undo();
    };
  }

  async run(): Promise<void> {
    this.pass ??= (async () => {
      for (let step = this.steps.pop(); step; step = this.steps.pop()) await runStep(step);
    })();
    await this.pass;
    await Promise.all(this.late);
  }
}

async function runStep(step: Step): Promise<void> {
  try {
    await step.undo();
  } catch (error) {
    process.stderr.write(`bench: cleanup "${step.label}" failed: ${(error as Error).message}\n`);
  }
}
