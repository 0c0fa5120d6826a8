-- Expired sessions are purged in small batches (server/auth/session.ts, purgeExpiredSessions): by expiry, not by a scan.
CREATE INDEX "sessions_expires_at_idx" ON "sessions" ("expires_at");
