/**
 * A bound on how long one request waits for something it does not control
 * (the database), summed over its steps: each step gets what is left, and
 * when none is left the step fails with the given error, at once.
 *
 * The abandoned step keeps running (a statement cannot be taken back from a
 * server that no longer answers); its later result or error is dropped
 * here, and what it holds is bounded elsewhere (the pool's size, its read
 * timeout). So a request answers within its budget, and a 2xx still never
 * precedes a commit: a step that gave up is answered as a failure.
 */
export class WaitBudget {
  private spentMs = 0;

  constructor(
    private readonly limitMs: number,
    private readonly exhausted: (limitMs: number) => Error,
  ) {}

  async run<T>(work: Promise<T>): Promise<T> {
    const remaining = this.limitMs - this.spentMs;
    // Whatever the step does after we stop waiting is no longer anyone's answer.
    work.catch(() => undefined);
    if (remaining <= 0) throw this.exhausted(this.limitMs);
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(this.exhausted(this.limitMs)), remaining);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
      this.spentMs += performance.now() - started;
    }
  }
}
