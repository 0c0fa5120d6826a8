"use client";
// Says which time zone the dashboard's times are in; rendered only in the browser (the server's zone is not the reader's).
import { useSyncExternalStore } from "react";
import { timeZoneLabel } from "../format.ts";

const subscribe = () => () => {};

export function TimeZoneNote() {
  const label = useSyncExternalStore(
    subscribe,
    () => timeZoneLabel(),
    () => "",
  );
  if (!label) return null;
  return <span>Times are shown in {label}.</span>;
}
