// Today's lessons from the published timetable, for a teacher's home page or a classroom's screen,
// with a button to start or join once the lesson's room exists (15 minutes before it starts).
// renderToday(element, { code, classroomId, date, joinUrl }): `code` for a classroom PC (no login),
// `classroomId` for a logged-in user looking at one classroom, neither for the logged-in teacher.
import { t } from './i18n.js';
import { badge, emptyState } from './js/components.js';
import { el } from './js/dom.js';
import { subjectName } from './js/subjects.js';

const KIND = { makeup: 'today.kind.makeup', moved: 'today.kind.moved' };

export async function renderToday(root, { code = null, classroomId = null, date = null, joinUrl = null } = {}) {
  const forClassroom = code !== null || classroomId !== null;
  const url = joinUrl || ((room) => (code ? `/classroom?code=${encodeURIComponent(code)}&room=${room}&auto` : `/teacher?room=${room}`));
  const params = new URLSearchParams();
  if (code) params.set('code', code);
  if (classroomId !== null) params.set('classroom', classroomId);
  if (date) params.set('date', date);
  root.replaceChildren(el('h2', { class: 'card-title', text: t('today.title') }));
  const res = await fetch(`/api/scheduler/today?${params}`, { credentials: 'same-origin' });
  if (res.status !== 200) {
    root.append(res.status === 404
      ? emptyState({ title: t('today.unpublished'), next: t('today.unpublished.next') })
      : emptyState({ title: t('today.failed'), next: t('today.failed.next') }));
    return;
  }
  const { lessons } = await res.json();
  if (!lessons.length) {
    root.append(emptyState({ title: t('today.none'), next: t('today.none.next'), action: { text: t('nav.library'), href: '/library' } }));
    return;
  }
  const hhmm = (iso) => iso.slice(11, 16);
  root.append(el('ul', { class: 'today' }, lessons.map((ls) => el('li', { dataset: { ref: ls.ref } },
    el('span', { class: 'today-time', text: `${hhmm(ls.start)}–${hhmm(ls.end)}` }),
    el('span', { class: 'today-what' },
      el('strong', { text: `${subjectName(ls.subject) || ls.subject_label} · ${t('today.grade', { grade: ls.grade })}` }),
      el('span', { class: 'meta', text: ` ${ls.teacher} · 1+${ls.classrooms}${KIND[ls.kind] ? ` · ${t(KIND[ls.kind])}` : ''}` })),
    ls.room_state === 'live' ? badge('live') : null,
    ls.room_id && ls.room_state !== 'ended'
      ? el('a', { class: 'btn primary', href: url(ls.room_id), text: forClassroom ? t('today.enter') : t('today.start') })
      : el('span', { class: 'muted', text: ls.room_id ? t(`state.${ls.room_state}`) : t('today.opensAt') })))));
}
