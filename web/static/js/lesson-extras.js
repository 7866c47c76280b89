// Beside a recording in the library: the lesson's 随堂测 results (beside the timeline's quiz markers) and its
// 评课 summary, each shown only when the server lets this person read it.
import { api } from './api.js';
import { t } from '../i18n.js';
import { el } from './dom.js';
import { quizCard } from './quiz-card.js';

const mmss = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

/** Fill `box` for the resource's lesson; `seek(t)` jumps the player (moments are recording seconds). */
export async function renderLessonExtras(box, roomId, seek) {
  if (!roomId) {
    box.hidden = true;
    return;
  }
  const base = `/api/rooms/${encodeURIComponent(roomId)}`;
  const [quizzes, evaluation] = await Promise.all([
    api(`${base}/quizzes`).catch(() => null),
    api(`${base}/evaluation/summary`).catch(() => null),
  ]);
  const parts = [];
  if (evaluation && evaluation.summary.count) {
    const s = evaluation.summary;
    parts.push(el('div', { id: 'evaluation-summary', dataset: { count: String(s.count), total: String(s.total) } },
      el('h3', { class: 'card-title', text: t('ev.summary') }),
      el('p', {}, el('strong', { text: `${s.total} / 100` }), ` · ${t('ev.count', { n: s.count })}`),
      el('ul', { class: 'ev-dims' }, s.dimensions.map((d) => el('li', { text: `${d.name} ${d.mean}` }))),
      s.moments?.length ? el('ol', { class: 'markers' }, s.moments.map((m) => el('li', {},
        el('button', { type: 'button', class: 'link', onclick: () => seek?.(m.t), text: mmss(m.t) }), ` ${m.note} · ${m.evaluator}`))) : null));
  }
  if (quizzes && quizzes.quizzes.length) {
    parts.push(el('div', { id: 'quiz-summaries' }, el('h3', { class: 'card-title', text: t('att.quizzes') }), quizzes.quizzes.map(quizCard)));
  }
  box.hidden = !parts.length;
  box.replaceChildren(...parts);
}
