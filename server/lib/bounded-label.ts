/**
 * A metric label whose values stay a bounded set in a process: the first
 * `max` distinct values it is given keep their own label, every later one is
 * `other`. The set only grows (a value never changes label during the
 * process's life), so counters labelled this way never jump between series.
 */
export const OTHER_LABEL = "other";

export class BoundedLabel {
  private readonly own = new Set<string>();

  constructor(private readonly max: number) {}

  /** `value`'s label: itself while fewer than `max` values have one, or it already has one; `other` after. */
  of(value: string): string {
    if (this.own.has(value)) return value;
    if (this.own.size >= this.max) return OTHER_LABEL;
    this.own.add(value);
    return value;
  }
}
