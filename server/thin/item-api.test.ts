/**
 * The item API's request URL: the item id is one path segment, whatever it
 * holds, appended to the item URL's path with its own query kept.
 */
import { describe, expect, it } from "vitest";
import { itemRequestUrl } from "./item-api.ts";

describe("itemRequestUrl", () => {
  it.each([
    ["http://api.test/items", "item-42", "http://api.test/items/item-42"],
    ["http://api.test/items/", "item-42", "http://api.test/items/item-42"],
    ["http://api.test/items", "a/b?c#d%e f", "http://api.test/items/a%2Fb%3Fc%23d%25e%20f"],
    ["http://api.test/items", "ünïcødé-🐳", "http://api.test/items/%C3%BCn%C3%AFc%C3%B8d%C3%A9-%F0%9F%90%B3"],
    ["https://api.test/v1/items?key=k1", "x", "https://api.test/v1/items/x?key=k1"],
    ["http://api.test", "x", "http://api.test/x"],
  ])("%s + %s → %s", (itemUrl, itemId, expected) => {
    expect(itemRequestUrl(itemUrl, itemId)).toBe(expected);
  });

  it("the id decodes back to itself on the far side", () => {
    const id = "'; DROP TABLE x; --/..";
    const url = new URL(itemRequestUrl("http://api.test/items", id));
    expect(decodeURIComponent(url.pathname.split("/").at(-1) as string)).toBe(id);
  });
});
