// On 督导: students reached (受益学生数, from 签到 headcounts) and missed lessons by reason (缺课预警), for the
// same dates as the planned-vs-held view.
import { api } from './api.js';
import { t } from '../i18n.js';
import { card } from './components.js';
import { el } from './dom.js';

export async function schoolFigures(since, until) {
  const q = new URLSearchParams();
  if (since) q.set('from', since);
  if (until) q.set('to', until);
  const [reach, missed] = await Promise.all([api(`/api/supervision/reach?${q}`), api(`/api/supervision/absences?${q}`)]);
  return el('div', { class: 'cards', id: 'school-figures' },
    card({ title: t('sup.reach'), id: 'reach', body: [
      el('p', { class: 'ev-total' }, el('strong', { id: 'reach-students', text: String(reach.students_confirmed) }), ` ${t('sup.reachUnit')}`),
      el('p', { class: 'muted', text: t('sup.reachDetail', { lessons: reach.lessons, attendances: reach.classroom_attendances, estimated: reach.students_estimated }) })] }),
    card({ title: t('sup.missed'), id: 'missed', body: [
      el('p', { class: 'ev-total' }, el('strong', { text: String(missed.total) }), ` ${t('sup.missedUnit')}`),
      el('ul', {}, missed.by_reason.map((r) => el('li', { text: `${t(`dev.reason.${r.reason}`)}：${r.count}` })))] }));
}
