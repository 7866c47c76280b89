// The navigation every header shows: one entry per area, only for the roles that may open it.
// A new area adds one line here (and its label key in i18n/base.js); docs/web.md lists the rules.

const ALL = ['teacher', 'coordinator', 'observer', 'viewer', 'school_admin'];

/** id, href, label key, roles that see it, and the paths that count as "this area" for aria-current. */
export const NAV = [
  { id: 'home', href: '/home', key: 'nav.home', roles: ALL, paths: ['/home', '/'] },
  { id: 'today', href: '/today', key: 'nav.today', roles: ['teacher'], paths: ['/today', '/teacher'] },
  { id: 'overview', href: '/coordinator', key: 'nav.overview', roles: ['coordinator', 'observer'], paths: ['/coordinator'] },
  { id: 'timetable', href: '/timetable', key: 'nav.timetable', roles: ['coordinator'], paths: ['/timetable'] },
  { id: 'library', href: '/library', key: 'nav.library', roles: ALL, paths: ['/library', '/playback'] },
  { id: 'supervision', href: '/supervision', key: 'nav.supervision', roles: ['coordinator', 'observer'], paths: ['/supervision'] },
  { id: 'admin', href: '/admin', key: 'nav.admin', roles: ['coordinator'], paths: ['/admin'] },
];

export function navFor(role) {
  return NAV.filter((item) => item.roles.includes(role));
}

export function currentArea(path = location.pathname) {
  return NAV.find((item) => item.paths.includes(path))?.id || '';
}
