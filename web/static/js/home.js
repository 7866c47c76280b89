// The home page per role: a teacher's lessons, the coordinator's overview, an observer's live lessons.
import { logout, requireUser, rooms as listRooms } from './api.js';
import { t } from '../i18n.js';
import { el, runPage, topBar } from './ui.js';
import { renderToday } from '../today.js';

function lessonUrl(room, user) {
  if (room.kind === 'delivery' && room.host_user_id === user.id) return `/teacher?room=${room.id}`;
  return `/coteach?room=${room.id}`;
}

function fmtTime(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString('zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function roomCard(room, user) {
  const present = room.present || [];
  const mine = room.host_user_id === user.id;
  return el('article', { class: 'card', dataset: { room: room.id } },
    el('div', { class: 'row' },
      el('span', { class: `state ${room.state}`, text: t(`state.${room.state}`) }),
      el('span', { class: 'meta', text: t(`kind.${room.kind}`) }),
    ),
    el('h3', { text: room.title }),
    el('div', { class: 'meta', text: [room.subject, fmtTime(room.scheduled_start)].filter(Boolean).join(' · ') }),
    room.state === 'open' || room.state === 'live'
      ? el('div', { class: 'meta', text: present.length ? t('coord.present', { names: present.map((p) => p.name).join('、') }) : t('coord.nobody') })
      : null,
    el('div', { class: 'row' },
      el('a', { class: 'btn primary', href: lessonUrl(room, user), text: mine ? t('home.enter') : t('home.watch') })),
  );
}

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t(`home.role.${user.role}`) });
  const all = (await listRooms()).filter((r) => r.state !== 'ended');
  const members = (r) => (r.members || []).some((m) => m.user_id === user.id);
  const shown = user.role === 'teacher' ? all.filter((r) => r.host_user_id === user.id || members(r)) : all;
  const links = el('div', { class: 'row' },
    user.role === 'coordinator' ? el('a', { class: 'btn primary', href: '/coordinator', id: 'go-coordinator', text: `${t('home.coordinator')} · ${t('home.patrol')}` }) : null,
    user.role === 'coordinator' ? el('a', { class: 'btn', href: '/timetable', id: 'go-timetable', text: t('home.timetable') }) : null,
    el('a', { class: 'btn', href: '/library', id: 'nav-library', text: t('nav.library') }),
    el('a', { class: 'btn', href: '/devicecheck', text: t('nav.devicecheck') }),
    el('button', { class: 'btn ghost', onclick: async () => { await logout(); location.href = '/login'; }, text: t('nav.logout') }),
  );
  document.getElementById('main').replaceChildren(el('div', { class: 'page' },
    el('div', { class: 'card' }, el('h2', { text: t('home.hello', { name: user.display_name }) }), links),
    el('h2', { text: user.role === 'teacher' ? t('home.lessons') : t('home.rooms') }),
    shown.length ? el('div', { class: 'cards', id: 'rooms' }, shown.map((r) => roomCard(r, user))) : el('p', { class: 'muted', text: t('home.none') }),
    user.role === 'teacher' ? el('section', { class: 'card', id: 'today' }) : null,
  ));
  const today = document.getElementById('today');
  if (today) await renderToday(today);
});
