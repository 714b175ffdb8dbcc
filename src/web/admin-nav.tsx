/** The links between the admin pages (shown only on them: other viewers never see an admin link). */
const ADMIN_PAGES = [
  ['/-/admin/users', 'Users'],
  ['/-/admin/repos', 'Repositories'],
  ['/-/admin/audit', 'Audit log'],
  ['/-/account/tokens', 'Every token'],
] as const;

export function AdminNav({ current }: { current: (typeof ADMIN_PAGES)[number][0] }) {
  return (
    <nav class="sub" aria-label="Administration">
      <ul>
        {ADMIN_PAGES.map(([href, label]) => (
          <li key={href}>
            <a href={href} aria-current={href === current ? 'page' : undefined}>
              {label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
