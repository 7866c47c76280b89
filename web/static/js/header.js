// The header every page has: product name, page title, the role-aware navigation, the person and role,
// the connection state (live pages), the language switch and log out.
import { me, logout } from './api.js';
import { applyI18n, lang, setLang, t } from '../i18n.js';
import { currentArea, navFor } from './nav.js';
import { el } from './dom.js';

let userPromise = null;
/** The logged-in user or null, asked once per page. */
export function currentUser() {
  userPromise ??= me().catch(() => null);
  return userPromise;
}

function navigation(user) {
  const here = currentArea();
  return el('nav', { class: 'mainnav', 'aria-label': t('nav.label') },
    el('ul', {}, navFor(user.role).map((item) => el('li', {},
      el('a', { href: item.href, id: `nav-${item.id}`, 'aria-current': item.id === here ? 'page' : null, text: t(item.key) })))));
}

function who(user) {
  return el('div', { class: 'who' },
    el('span', { class: 'who-name', text: user.display_name }),
    el('span', { class: 'who-role', id: 'who-role', text: t(`home.role.${user.role}`) }),
    el('button', {
      class: 'btn ghost small', id: 'logout', type: 'button', text: t('nav.logout'),
      onclick: async () => { await logout().catch(() => {}); location.href = '/login'; },
    }));
}

/**
 * Put the header at the top of the page. `user`: the logged-in user if the page already has it,
 * `undefined` to ask the server, `null` for pages used without an account (classroom screen, login).
 */
export function header({ title = '', user, home = true } = {}) {
  const slot = el('div', { class: 'header-nav' });
  const account = el('div', { class: 'header-account' });
  const bar = el('header', { class: 'topbar', role: 'banner' },
    el('a', { class: 'brand', href: home ? '/home' : '/', 'aria-label': t('app.name') },
      el('span', { class: 'logo', 'aria-hidden': 'true', text: '三' }), el('span', { text: t('app.name') })),
    el('h1', { class: 'title', id: 'page-title', text: title }),
    slot,
    el('div', { class: 'spacer' }),
    el('span', { class: 'conn', id: 'conn', role: 'status', 'data-state': 'idle' }),
    account,
    el('button', {
      class: 'btn ghost small', id: 'lang-switch', type: 'button', lang: lang() === 'en' ? 'zh-CN' : 'en',
      onclick: () => setLang(lang() === 'en' ? 'zh-CN' : 'en'), text: t('lang.switch'),
    }),
  );
  document.body.prepend(bar);
  document.body.prepend(el('a', { class: 'skip', href: '#main', text: t('nav.skip') }));
  applyI18n();
  if (title) document.title = `${title} · ${t('app.name')}`;
  const fill = (u) => {
    if (!u) {
      if (home) account.replaceChildren(el('a', { class: 'btn primary small', id: 'nav-login', href: `/login?next=${encodeURIComponent(location.pathname + location.search)}`, text: t('login.submit') }));
      return;
    }
    slot.replaceChildren(navigation(u));
    account.replaceChildren(who(u));
    document.body.dataset.role = u.role;
  };
  (user === undefined ? currentUser() : Promise.resolve(user)).then(fill);
  return bar;
}

export function setTitle(text) {
  const node = document.getElementById('page-title');
  if (node) node.textContent = text;
  document.title = `${text} · ${t('app.name')}`;
}
