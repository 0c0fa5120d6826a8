/**
 * The bucket sizes of the dashboard's series, in seconds: the one list, read
 * by the series (server/stats/series.ts) and by the charts, which convert a
 * tenant's limits to "per bucket" with it.
 *
 * Client-safe: imports nothing, so browser bundles may import it.
 */
export const BUCKETS = { "1m": 60, "5m": 300, "1h": 3_600, "1d": 86_400 } as const;
export type BucketName = keyof typeof BUCKETS;
