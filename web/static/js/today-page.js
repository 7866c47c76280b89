// /today: the logged-in teacher's lessons of the day (?classroom= for one classroom, ?code= for a classroom PC),
// and today's invitations: 名师课堂 rooms the teacher is invited to, 名校网络课堂 rooms the classroom watches,
// each with its iCal link (and the teacher's whole calendar as iCal).
import { t } from '../i18n.js';
import { card, pageHead } from './components.js';
import { el, params, runPage, topBar } from './ui.js';
import { api, requireUser } from './api.js';
import { invitationList } from './invitations.js';
import { renderToday } from '../today.js';

async function todayInvitations(code, classroomId, date) {
  const q = new URLSearchParams();
  if (code) q.set('code', code);
  if (classroomId) q.set('classroom', classroomId);
  if (date) q.set('date', date);
  const data = await api(`/api/invitations/today?${q}`);
  const joinUrl = (i) => (i.kind === 'broadcast' && code
    ? `/classroom?code=${encodeURIComponent(code)}&room=${encodeURIComponent(i.room_id)}&auto`
    : `/coteach?room=${encodeURIComponent(i.room_id)}`);
  const actions = data.ics_url
    ? [el('a', { class: 'btn secondary', id: 'ical-link', href: data.ics_url, title: t('pl.icalHint'), text: t('pl.ical') })] : [];
  if (!data.invitations.length) return actions.length ? el('div', { class: 'row', id: 'today-actions' }, ...actions) : null;
  return card({
    title: t('today.invitations'), id: 'today-invitations', actions,
    body: [invitationList(data.invitations, { id: 'invitations', joinUrl, ics: (i) => i.ics_url })],
  });
}

runPage(async () => {
  const code = params.get('code');
  const user = code ? null : await requireUser();
  topBar({ title: t('today.page.title'), user, home: !code });
  const box = el('section', { class: 'card', id: 'today' });
  const extra = el('div', { id: 'today-extra' });
  document.getElementById('main').replaceChildren(el('div', { class: 'page' },
    pageHead(t('today.page.title'), { sub: t('today.page.sub') }), box, extra));
  const classroomId = params.get('classroom');
  await Promise.all([
    renderToday(box, { code, classroomId, date: params.get('date') }),
    todayInvitations(code, classroomId, params.get('date')).then((node) => extra.replaceChildren(...(node ? [node] : []))),
  ]);
});
