import { describe, expect, it } from "vitest";
import { BoundedLabel, OTHER_LABEL } from "./bounded-label.ts";

describe("BoundedLabel", () => {
  it("gives the first N distinct values their own label, keeps them, and names every later one other", () => {
    const label = new BoundedLabel(3);
    expect(["a", "b", "a", "c", "d", "b", "e", "c"].map((value) => label.of(value))).toEqual(["a", "b", "a", "c", OTHER_LABEL, "b", OTHER_LABEL, "c"]);
    const seen = new Set(Array.from({ length: 1_000 }, (_, i) => label.of(`v-${i}`)));
    expect(seen).toEqual(new Set([OTHER_LABEL]));
  });
});
