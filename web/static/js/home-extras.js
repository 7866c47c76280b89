// On every home page: the person's invitations (名师课堂 rooms they are invited to, with a join button), a
// "new room" button for teachers and coordinators, and the link to their own lessons as iCalendar.
import { api } from './api.js';
import { t } from '../i18n.js';
import { card } from './components.js';
import { el } from './dom.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : t('pl.noTime'));

export async function homeExtras(user) {
  const [{ invitations }, { ics_url: ics }] = await Promise.all([api('/api/me/invitations'), api('/api/me/calendar')]);
  const actions = el('div', { class: 'row', id: 'home-actions' },
    ['teacher', 'coordinator'].includes(user.role) ? el('a', { class: 'btn primary', id: 'new-room', href: '/plan', text: t('pl.title') }) : null,
    el('a', { class: 'btn secondary', id: 'ical-link', href: ics, title: t('pl.icalHint'), text: t('pl.ical') }));
  const list = invitations.length ? el('ul', { class: 'invitations', id: 'invitations' }, invitations.map((i) => el('li', { dataset: { room: i.room_id } },
    el('div', {}, el('strong', { text: i.title }), el('span', { class: 'meta', text: ` · ${[i.purpose_label, t('pl.from', { name: i.host }), when(i.scheduled_start)].filter(Boolean).join(' · ')}` })),
    el('div', { class: 'row' },
      el('a', { class: 'btn primary small', href: `/coteach?room=${encodeURIComponent(i.room_id)}`, dataset: { action: 'join' }, text: t('pl.join') }),
      el('a', { class: 'btn small', href: ics, text: 'iCal' }))))) : null;
  return el('div', { class: 'home-extras' }, actions,
    list ? card({ title: t('pl.invitations'), id: 'invitations-card', body: [list] }) : null);
}
