"use client";
/**
 * A search box whose text lives in the URL (?<param>=…): typing stays
 * instant (local state), the URL follows 300 ms after the last keystroke,
 * and a URL changed from outside (back button, a link) shows its search in
 * the box. `alsoClear` names parameters that a new search resets (a page
 * number, say). Callers must sit inside <Suspense> (useSearchParams).
 */
import { useEffect, useRef, useState } from "react";
import { useDebouncedValue } from "./use-debounced-value.ts";
import { useUrlState } from "./use-url-state.ts";

export const SEARCH_DEBOUNCE_MS = 300;

export function useUrlSearch(param: string, alsoClear: readonly string[] = []) {
  const url = useUrlState();
  const { params, set } = url;
  const value = params.get(param) ?? "";
  const [text, setText] = useState(value);
  const debounced = useDebouncedValue(text.trim(), SEARCH_DEBOUNCE_MS);
  const pushed = useRef(value);
  const clear = alsoClear.join(",");
  useEffect(() => {
    if (debounced !== pushed.current) {
      pushed.current = debounced;
      set({ [param]: debounced, ...Object.fromEntries(clear ? clear.split(",").map((key) => [key, null]) : []) });
    }
  }, [debounced, set, param, clear]);
  useEffect(() => {
    if (value !== pushed.current) {
      pushed.current = value;
      setText(value);
    }
  }, [value]);
  return { text, setText, value, ...url };
}
