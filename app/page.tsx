import { HealthBadge } from "@/components/health-badge.tsx";

export default function HomePage() {
  return (
    <main>
      <h1>Tidemark</h1>
      <p className="muted">Multi-tenant event ingestion that stays correct when the whales arrive.</p>
      <section className="panel" aria-label="System health">
        <HealthBadge />
      </section>
    </main>
  );
}
