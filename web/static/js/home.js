// The home page per role: a teacher's day and lessons; the coordinator's live lessons and the areas of the
// county; an observer's live lessons. Every part says what to do next when it is empty.
import { requireUser, rooms as listRooms } from './api.js';
import { t } from '../i18n.js';
import { badge, card, emptyState, pageHead } from './components.js';
import { el, runPage, topBar } from './ui.js';
import { renderToday } from '../today.js';
import { homeExtras } from './home-extras.js';
import { subjectName } from './subjects.js';
import { renderPush } from './push-list.js';

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
  const live = room.state === 'live' || room.state === 'open';
  return el('article', { class: 'card', dataset: { room: room.id } },
    el('div', { class: 'row' },
      room.state === 'live' ? badge('live') : badge(room.state, t(`state.${room.state}`)),
      el('span', { class: 'meta', text: t(`kind.${room.kind}`) }),
    ),
    el('h3', { text: room.title }),
    el('div', { class: 'meta', text: [subjectName(room.subject), fmtTime(room.scheduled_start)].filter(Boolean).join(' · ') }),
    // `present` is sent only to those who may see who is in the lesson (rooms/visibility.py); others get no line
    live && room.present ? el('div', { class: 'meta', text: present.length ? t('coord.present', { names: present.map((p) => p.name).join('、') }) : t('coord.nobody') }) : null,
    el('div', { class: 'row' },
      el('a', { class: 'btn primary', href: lessonUrl(room, user), text: mine ? t('home.enter') : t('home.watch') }),
      room.kind === 'coteach' && room.state !== 'scheduled' && user.role !== 'viewer'
        ? el('a', { class: 'btn', href: `/evaluate?room=${encodeURIComponent(room.id)}`, dataset: { action: 'evaluate' }, text: mine ? t('ev.results') : t('ev.open') }) : null),
  );
}

const AREAS = {
  coordinator: [
    ['go-coordinator', '/coordinator', 'home.area.overview', 'home.area.overview.what'], ['go-timetable', '/timetable', 'home.area.timetable', 'home.area.timetable.what'],
    ['go-library', '/library', 'home.area.library', 'home.area.library.what'], ['go-supervision', '/supervision', 'home.area.supervision', 'home.area.supervision.what'],
    ['go-admin', '/admin', 'home.area.admin', 'home.area.admin.what'], ['go-progress', '/progress', 'prog.title', 'prog.what'],
  ],
  observer: [['go-coordinator', '/coordinator', 'home.area.overview', 'home.area.overview.what'], ['go-supervision', '/supervision', 'home.area.supervision', 'home.area.supervision.what'],
    ['go-library', '/library', 'home.area.library', 'home.area.library.what']],
  teacher: [['go-today', '/today', 'home.area.today', 'home.area.today.what'], ['go-library', '/library', 'home.area.library', 'home.area.library.what'],
    ['go-devicecheck', '/devicecheck', 'home.area.devicecheck', 'home.area.devicecheck.what'], ['go-progress', '/progress', 'prog.title', 'prog.what']],
};

function areas(role) {
  return el('div', { class: 'cards areas' }, (AREAS[role] || AREAS.observer).map(([id, href, key, what]) =>
    el('a', { class: 'card area', id, href },
      el('span', { class: 'area-title', text: t(key) }), el('span', { class: 'meta', text: t(what) }))));
}

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('nav.home'), user });
  const all = (await listRooms()).filter((r) => r.state !== 'ended');
  const members = (r) => (r.members || []).some((m) => m.user_id === user.id);
  const shown = user.role === 'teacher' ? all.filter((r) => r.host_user_id === user.id || members(r)) : all;
  shown.sort((a, b) => (b.state === 'live') - (a.state === 'live') || String(a.scheduled_start).localeCompare(String(b.scheduled_start)));
  const empty = user.role === 'teacher'
    ? emptyState({ title: t('home.none'), next: t('home.none.teacher'), action: { text: t('nav.today'), href: '/today' } })
    : emptyState({ title: t('home.none'), next: t('home.none.coordinator'), action: user.role === 'coordinator' ? { text: t('nav.timetable'), href: '/timetable' } : null });
  const main = document.getElementById('main');
  main.id = 'main';
  main.replaceChildren(el('div', { class: 'page' },
    pageHead(t('home.hello', { name: user.display_name }), { sub: t(`home.role.${user.role}`) }),
    areas(user.role),
    el('div', { id: 'home-extras' }),
    user.role === 'teacher' ? el('section', { class: 'card', id: 'today' }) : null,
    user.role === 'teacher' ? el('div', { id: 'push' }) : null,
    el('h2', { class: 'section-title', text: user.role === 'teacher' ? t('home.lessons') : t('home.rooms') }),
    shown.length ? el('div', { class: 'cards', id: 'rooms' }, shown.map((r) => roomCard(r, user))) : empty,
  ));
  homeExtras(user).then((node) => document.getElementById('home-extras').replaceChildren(node)).catch(() => {});
  const today = document.getElementById('today');
  if (today) await renderToday(today);
  const push = document.getElementById('push');
  if (push) await renderPush(push).catch(() => push.replaceChildren());
});
