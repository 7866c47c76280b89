// 督导: planned vs held lessons (开课比) per week, hub teacher and classroom, from the published timetable
// and the presence records; a CSV for the county's spreadsheet. Demo data is marked as such.
import { api, requireUser } from './api.js';
import { t } from '../i18n.js';
import { badge, button, emptyState, field, pageHead } from './components.js';
import { supervisionQuery, supervisionView } from './supervision-view.js';
import { schoolFigures } from './supervision-school.js';
import { el, errorText, runPage, topBar } from './ui.js';

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('sup.title'), user });
  const since = field({ label: t('sup.since'), name: 'since', type: 'date' });
  const until = field({ label: t('sup.until'), name: 'until', type: 'date' });
  const csv = el('a', { class: 'btn secondary', id: 'supervision-csv', href: '/api/scheduler/supervision?format=csv', text: t('sup.csv') });
  const out = el('div', { class: 'grid-stack', id: 'supervision-out' });
  const demo = el('span', { id: 'demo-mark' });
  const load = async () => {
    const q = supervisionQuery(since.input.value, until.input.value);
    csv.href = `/api/scheduler/supervision?${q}${q.size ? '&' : ''}format=csv`;
    let data;
    try {
      data = await api(`/api/scheduler/supervision?${q}`);
    } catch (err) {
      out.replaceChildren(err.code === 'no_timetable'
        ? emptyState({ title: t('sup.noTimetable'), next: t('sup.noTimetable.next'), action: user.role === 'coordinator' ? { text: t('nav.timetable'), href: '/timetable' } : null })
        : emptyState({ title: errorText(err), next: t('sup.retry') }));
      schoolFigures(since.input.value, until.input.value).then((node) => out.prepend(node)).catch(() => {});
      return;
    }
    const marks = await api('/api/demo').catch(() => ({ demo: false }));
    demo.replaceChildren(...(marks.demo ? [badge('demo'), el('span', { class: 'muted', text: t('sup.demoNote') })] : []));
    out.replaceChildren(el('section', { class: 'card' }, el('h3', { class: 'card-title', text: t('sup.chart') }), supervisionView(data.lines)));
    // students reached and missed lessons by reason (school); not fatal to the page when it fails
    schoolFigures(since.input.value, until.input.value).then((node) => out.prepend(node)).catch(() => {});
  };
  document.getElementById('main').replaceChildren(el('div', { class: 'page' },
    pageHead(t('sup.title'), { sub: t('sup.sub'), actions: [demo] }),
    el('form', { class: 'card fields', id: 'sup-form', onsubmit: (e) => { e.preventDefault(); load(); } },
      since.wrap, until.wrap, button({ text: t('sup.load'), kind: 'primary', type: 'submit', id: 'load-supervision' }), csv),
    out));
  await load();
});
