// On every home page: the person's invitations (名师课堂 rooms they are invited to, with a join button), a
// "new room" button for teachers and coordinators, and the link to their own lessons as iCalendar.
import { api } from './api.js';
import { t } from '../i18n.js';
import { card } from './components.js';
import { el } from './dom.js';
import { invitationList } from './invitations.js';

export async function homeExtras(user) {
  const [{ invitations }, { ics_url: ics }] = await Promise.all([api('/api/me/invitations'), api('/api/me/calendar')]);
  const actions = el('div', { class: 'row', id: 'home-actions' },
    ['teacher', 'coordinator'].includes(user.role) ? el('a', { class: 'btn primary', id: 'new-room', href: '/plan', text: t('pl.title') }) : null,
    el('a', { class: 'btn secondary', id: 'ical-link', href: ics, title: t('pl.icalHint'), text: t('pl.ical') }));
  const list = invitations.length
    ? invitationList(invitations, { joinUrl: (i) => `/coteach?room=${encodeURIComponent(i.room_id)}`, ics: () => ics }) : null;
  return el('div', { class: 'home-extras' }, actions,
    list ? card({ title: t('pl.invitations'), id: 'invitations-card', body: [list] }) : null);
}
