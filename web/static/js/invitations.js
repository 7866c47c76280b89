// Invitations to rooms planned by hand (名师课堂 for a teacher, 名校网络课堂 for a classroom PC), as a list with a
// join button and each room's iCal link. Used by the home page and today's list (/today).
import { t } from '../i18n.js';
import { el } from './dom.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : t('pl.noTime'));

/** `joinUrl(invitation)` says where the join button goes; `ics(invitation)` the iCal link (or null). */
export function invitationList(invitations, { id = 'invitations', joinUrl, ics }) {
  return el('ul', { class: 'invitations', id }, invitations.map((i) => {
    const cal = ics(i);
    return el('li', { dataset: { room: i.room_id, kind: i.kind } },
      el('div', {}, el('strong', { text: i.title }),
        el('span', { class: 'meta', text: ` · ${[i.purpose_label, i.host ? t('pl.from', { name: i.host }) : '', when(i.scheduled_start)].filter(Boolean).join(' · ')}` })),
      el('div', { class: 'row' },
        el('a', { class: 'btn primary small', href: joinUrl(i), dataset: { action: 'join' }, text: t('pl.join') }),
        cal ? el('a', { class: 'btn small', href: cal, dataset: { action: 'ical' }, title: t('pl.icalHint'), text: 'iCal' }) : null));
  }));
}
