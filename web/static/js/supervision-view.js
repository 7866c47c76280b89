// The planned-vs-held view (开课比) shared by 督导 and the timetable page: a weekly bar chart and one
// sortable table of weeks, hub teachers and remote classrooms.
import { t } from '../i18n.js';
import { barChart } from './chart.js';
import { dataTable, emptyState } from './components.js';
import { el } from './dom.js';

const GROUP = { week: 'sup.group.week', teacher: 'sup.group.teacher', classroom: 'sup.group.classroom' };

export function pct(ratio) {
  return ratio === null || ratio === undefined ? '—' : `${(ratio * 100).toFixed(1)}%`;
}

/** Query string of the date fields, and the CSV link that goes with it. */
export function supervisionQuery(since, until) {
  const q = new URLSearchParams();
  if (since) q.set('since', since);
  if (until) q.set('until', until);
  return q;
}

export function supervisionView(lines) {
  if (!lines.length) return emptyState({ title: t('sup.none'), next: t('sup.none.next') });
  const weeks = lines.filter((l) => l.group === 'week');
  const chart = barChart({
    id: 'chart', title: t('sup.chart'),
    series: [{ key: 'planned', label: t('sup.planned'), cls: 'planned' }, { key: 'held', label: t('sup.held'), cls: 'held' }],
    points: weeks.map((w) => ({ label: w.key.slice(5), values: { planned: w.planned, held: w.held } })),
  });
  const table = dataTable({
    id: 'supervision', pageSize: 20, rows: lines,
    columns: [
      { key: 'group', label: t('sup.group'), value: (l) => t(GROUP[l.group] || 'sup.group.week') },
      { key: 'label', label: t('sup.name') },
      { key: 'planned', label: t('sup.planned'), num: true },
      { key: 'held', label: t('sup.held'), num: true },
      { key: 'ratio', label: t('sup.ratio'), num: true, render: (l) => pct(l.ratio) },
    ],
  });
  return el('div', { class: 'grid-stack' }, chart, table);
}
