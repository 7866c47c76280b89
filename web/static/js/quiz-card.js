// One quiz's results as a card: the question, when, how many classrooms answered, a chart per classroom
// and overall. Used by the attendance page and the library's playback page.
import { t } from '../i18n.js';
import { barChart } from './chart.js';
import { card } from './components.js';
import { el } from './dom.js';

const time = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : '—');
const LETTERS = 'ABCDEF';

export function quizCard(tally) {
  const q = tally.quiz;
  const name = (i) => (q.kind === 'truefalse' ? q.options[i] : `${LETTERS[i]}. ${q.options[i]}`);
  const series = q.options.map((_, i) => ({ key: `o${i}`, label: name(i), cls: `opt${i}` }));
  const point = (label, counts) => ({ label, values: Object.fromEntries(counts.map((n, i) => [`o${i}`, n])) });
  return card({
    title: q.question, cls: 'quiz-summary',
    body: [
      el('p', { class: 'muted', text: `${time(q.pushed_at)} · ${t('cw.answered', { n: tally.answered })}` }),
      barChart({ title: q.question, series, points: [...tally.classrooms.map((c) => point(c.label, c.counts)), point(t('cw.overall'), tally.overall)], width: 380, height: 180 }),
    ],
  });
}

