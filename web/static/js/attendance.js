// 考勤 of one lesson for its teacher and the coordinators: every expected classroom (present or not) with
// join/leave times, minutes present and the 签到 headcount, the CSV download, and the lesson's quiz results.
import { api, requireUser } from './api.js';
import { t } from '../i18n.js';
import { dataTable, emptyState, pageHead } from './components.js';
import { quizCard } from './quiz-card.js';
import { el, params, runPage, topBar } from './ui.js';

const time = (iso) => (iso ? new Date(iso).toLocaleString('zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : '—');

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('att.title'), user });
  const roomId = params.get('room') || '';
  const main = document.getElementById('main');
  const [att, quizzes] = await Promise.all([
    api(`/api/rooms/${encodeURIComponent(roomId)}/attendance`),
    api(`/api/rooms/${encodeURIComponent(roomId)}/quizzes`),
  ]);
  const rows = att.rows;
  const table = dataTable({
    id: 'attendance', rows, pageSize: 50,
    columns: [
      { key: 'school', label: t('att.school') },
      { key: 'name', label: t('att.name'), render: (r) => el('span', { class: r.present ? '' : 'absent' }, r.name, r.present ? '' : ` · ${t('att.absent')}`) },
      { key: 'joined_at', label: t('att.joined'), value: (r) => r.joined_at || '', render: (r) => time(r.joined_at) },
      { key: 'left_at', label: t('att.left'), value: (r) => r.left_at || '', render: (r) => (r.present && !r.left_at ? t('state.live') : time(r.left_at)) },
      { key: 'minutes', label: t('att.minutes'), num: true },
      { key: 'headcount', label: t('att.headcount'), num: true, value: (r) => r.headcount ?? -1, render: (r) => (r.headcount ?? '—') },
      { key: 'enrolled', label: t('att.enrolled'), num: true, render: (r) => (r.kind === 'classroom' ? String(r.enrolled) : '') },
    ],
  });
  main.replaceChildren(el('div', { class: 'page' },
    pageHead(`${t('att.title')} · ${att.title}`, {
      sub: t('att.summary', { expected: att.summary.classrooms_expected, present: att.summary.classrooms_present, headcount: att.summary.headcount }),
      actions: [el('a', { class: 'btn primary', id: 'attendance-csv', href: `/api/rooms/${encodeURIComponent(roomId)}/attendance.csv`, download: '', text: t('att.csv') })],
    }),
    el('section', { class: 'card' }, table),
    el('h2', { class: 'section-title', text: t('att.quizzes') }),
    quizzes.quizzes.length ? el('div', { class: 'cards', id: 'quiz-summaries' }, quizzes.quizzes.map(quizCard))
      : emptyState({ title: t('att.noQuizzes') }),
  ));
});
