"use client";
// The dashboard's navigation; the current page is marked (aria-current) and admin links appear for admins only.
import Link from "next/link";
import { usePathname } from "next/navigation";

interface NavLink {
  href: string;
  label: string;
  active: (pathname: string) => boolean;
}

const MAIN: NavLink[] = [{ href: "/", label: "Overview", active: (p) => p === "/" || p.startsWith("/tenants/") }];
const ADMIN: NavLink[] = [
  { href: "/admin/tenants", label: "Tenants", active: (p) => p.startsWith("/admin/tenants") },
  { href: "/admin/dead-letters", label: "Dead letters", active: (p) => p.startsWith("/admin/dead-letters") },
  { href: "/admin/users", label: "Users", active: (p) => p.startsWith("/admin/users") },
];

export function MainNav({ isAdmin }: { isAdmin: boolean }) {
  const pathname = usePathname();
  const item = (link: NavLink) => (
    <li key={link.href}>
      <Link href={link.href} aria-current={link.active(pathname) ? "page" : undefined}>
        {link.label}
      </Link>
    </li>
  );
  return (
    <nav className="main-nav" aria-label="Main">
      <ul>
        {MAIN.map(item)}
        {isAdmin ? (
          <>
            <li className="nav-group-label" aria-hidden="true">
              Admin
            </li>
            {ADMIN.map((link) => (
              <li key={link.href}>
                <Link href={link.href} aria-current={link.active(pathname) ? "page" : undefined}>
                  <span className="visually-hidden">Admin: </span>
                  {link.label}
                </Link>
              </li>
            ))}
          </>
        ) : null}
      </ul>
    </nav>
  );
}
