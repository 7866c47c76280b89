// Coordinator timetable page: import, solve with progress, grid by school/teacher/classroom,
// drag-to-move with live validation, publish, planned vs held (开课比). Plain ES module, no build step.
import { t } from './i18n.js';
import { api, requireUser } from './js/api.js';
import { button, card, dataTable, emptyState, field, pageHead, progress } from './js/components.js';
import { el } from './js/dom.js';
import { supervisionQuery, supervisionView } from './js/supervision-view.js';
import { errorText, runPage, topBar } from './js/ui.js';
import { Grid } from './timetable-grid.js';
import { subjectName } from './js/subjects.js';

const TEMPLATES = ['county', 'schools', 'bells', 'classrooms', 'teachers', 'pairings', 'demand', 'term'];
const $ = (sel) => document.querySelector(sel);
let timetable = null;
let grid = null;

function status(node, text, cls = '') {
  node.textContent = text;
  node.className = `status ${cls}`;
}

async function importCounty(e) {
  e.preventDefault();
  const files = [...$('#import-files').files];
  const out = $('#import-status');
  if (!files.length) { status(out, t('tt.chooseFile'), 'error'); return; }
  const bar = $('#import-progress');
  bar.set(0, 0, t('tt.importing'));
  status(out, '');
  const res = await sendCounty(files);
  bar.hidden = true;
  const problems = $('#import-problems');
  if (res.status === 422) {
    status(out, res.body.error.message, 'error');
    problems.update(res.body.problems);
    problems.hidden = false;
  } else if (res.status === 200) {
    problems.hidden = true;
    status(out, t('tt.imported'), 'ok');
    showSummary(res.body.summary);
  } else {
    status(out, res.body?.error ? errorText(res.body.error) : t('tt.importFailed'), 'error');
  }
}

async function sendCounty(files) {
  let init;
  if (files.length === 1 && files[0].name.endsWith('.json')) {
    init = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: await files[0].text() };
  } else {
    const form = new FormData();
    for (const f of files) form.append('files', f, f.name);
    init = { method: 'POST', body: form };
  }
  const res = await fetch('/api/scheduler/county', { credentials: 'same-origin', ...init });
  const body = (res.headers.get('content-type') || '').includes('json') ? await res.json() : null;
  return { status: res.status, body };
}

function showSummary(s) {
  $('#county-summary').textContent = t('tt.summary', s) + (s.term ? t('tt.term', s.term) : '');
}

async function runSolver() {
  const out = $('#solve-status');
  let job;
  try {
    job = await api('/api/scheduler/solve', { method: 'POST', body: { replan: $('#f-replan').checked } });
  } catch (err) {
    status(out, errorText(err), 'error');
    return;
  }
  const bar = $('#solve-progress');
  while (job.state === 'running') {
    bar.set(job.done, job.parts, t('tt.solving', { done: job.done, parts: job.parts || '?', s: job.seconds }));
    await new Promise((ok) => setTimeout(ok, 400));
    job = await api(`/api/scheduler/solve/${job.id}`);
  }
  bar.done(job.state === 'done' ? t('tt.solved', { s: job.seconds }) : '');
  status(out, job.state === 'done' ? `${t('tt.solved', { s: job.seconds })} · ${solveQuality(job)}` : t('tt.solveFailed', { e: job.error }), job.state === 'done' ? 'ok' : 'error');
  await loadTimetable();
}

async function loadTimetable() {
  try {
    timetable = await api('/api/scheduler/timetable');
  } catch {
    $('#tt-summary').replaceChildren(emptyState({ title: t('tt.noTimetable'), next: t('tt.noTimetable.next') }));
    return;
  }
  const avg = timetable.lessons.length ? (timetable.placed / timetable.lessons.length).toFixed(2) : '0';
  $('#tt-summary').textContent = t(timetable.state === 'published' ? 'tt.state.published' : 'tt.state.draft', {
    placed: timetable.placed, demanded: timetable.demanded, lessons: timetable.lessons.length, avg,
  });
  $('#unplaced').update(timetable.unplaced);
  $('#violations').replaceChildren(...(timetable.violations.length
    ? timetable.violations.map((v) => el('li', { class: 'error', text: v.message }))
    : [el('li', { class: 'ok', text: t('tt.noViolations') })]));
  fillEntities();
}

/** CP-SAT's verdict, and for a re-plan what moved against what the change forced. */
function solveQuality(job) {
  const q = job.quality === 'proven optimal' ? t('tt.optimal') : t('tt.withinGap', { gap: (job.gap_pct ?? 0).toFixed(1) });
  if (!job.moves) return q;
  const who = Object.entries(job.moves.by_teacher).map(([k, n]) => `${k} ${n}`).join('、');
  return `${q} · ${t('tt.moved', { moved: job.moves.moved, forced: job.moves.forced })}${who ? `（${who}）` : ''}`;
}

function fillEntities() {
  if (!timetable) return;
  const view = $('#view').value;
  const items = view === 'school' ? timetable.schools : view === 'teacher' ? timetable.teachers : timetable.classrooms;
  $('#entity').replaceChildren(...items.map((i) => el('option', { value: i.id,
    text: `${i.name}${i.grade ? ` · ${t('tt.grade', { grade: i.grade })}` : ''} (${i.id})` })));
  drawGrid();
}

function drawGrid() {
  const view = $('#view').value;
  const id = $('#entity').value;
  const lessons = timetable.lessons.filter((ls) => (view === 'school' ? ls.hub === id || ls.schools.includes(id)
    : view === 'teacher' ? ls.teacher === id : ls.classrooms.includes(id)));
  // grey the periods the viewed classroom (or the viewed teacher's own hub class) is busy with its own lessons
  const own = view === 'classroom' ? id : view === 'teacher' ? (timetable.teachers.find((x) => x.id === id) || {}).classroom : null;
  const busy = new Set((timetable.busy[own] || []).map(([d, p]) => `${d}.${p}`));
  grid.draw(timetable, lessons, busy);
  const ical = $('#ical');
  ical.href = `/api/scheduler/ical?${view}=${encodeURIComponent(id)}`;
  ical.hidden = timetable.state !== 'published' || !id;
}

async function publish() {
  const out = $('#publish-status');
  try {
    await api('/api/scheduler/timetable/publish', { method: 'POST' });
    status(out, t('tt.published'), 'ok');
    await loadTimetable();
  } catch (err) {
    status(out, errorText(err), 'error');
  }
}

async function loadSupervision() {
  const q = supervisionQuery($('#f-since').value, $('#f-until').value);
  $('#supervision-csv').href = `/api/scheduler/supervision?${q}${q.size ? '&' : ''}format=csv`;
  const box = $('#supervision-box');
  try {
    const data = await api(`/api/scheduler/supervision?${q}`);
    box.replaceChildren(supervisionView(data.lines));
  } catch (err) {
    box.replaceChildren(emptyState({ title: errorText(err), next: t('sup.noTimetable.next') }));
  }
}

function sections() {
  const files = field({ label: t('tt.files'), name: 'import-files', type: 'file', hint: t('tt.filesHint'), attrs: { multiple: true, accept: '.json,.csv,.xlsx' } });
  files.input.id = 'import-files';
  files.wrap.querySelector('label').htmlFor = 'import-files';
  const problems = dataTable({ id: 'import-problems', pageSize: 50, columns: [
    { key: 'file', label: t('tt.problem.file') }, { key: 'row', label: t('tt.problem.row'), value: (p) => p.row || '' },
    { key: 'field', label: t('tt.problem.field') }, { key: 'message', label: t('tt.problem.message') }] });
  problems.hidden = true;
  const replan = field({ label: t('tt.replan'), name: 'replan', type: 'checkbox' });
  const view = field({ label: t('tt.view'), name: 'view', type: 'select', options: ['school', 'teacher', 'classroom'].map((v) => ({ value: v, label: t(`tt.view.${v}`) })) });
  view.input.id = 'view';
  view.wrap.querySelector('label').htmlFor = 'view';
  const entity = field({ label: t('tt.entity'), name: 'entity', type: 'select' });
  entity.input.id = 'entity';
  entity.wrap.querySelector('label').htmlFor = 'entity';
  view.input.addEventListener('change', fillEntities);
  entity.input.addEventListener('change', drawGrid);
  const since = field({ label: t('sup.since'), name: 'since', type: 'date' });
  const until = field({ label: t('sup.until'), name: 'until', type: 'date' });
  const unplaced = dataTable({ id: 'unplaced', pageSize: 20,
    empty: emptyState({ title: t('tt.allPlaced') }),
    columns: [{ key: 'classroom', label: t('tt.col.classroom') }, { key: 'subject', label: t('tt.col.subject'), value: (u) => subjectName(u.subject) },
      { key: 'missing', label: t('tt.col.missing'), num: true }, { key: 'reasons', label: t('tt.col.reasons'), value: (u) => u.reasons.join('；') }] });
  const gridBox = el('div', { id: 'grid', class: 'tt-gridbox' });
  const moveCheck = el('div', { id: 'move-check', class: 'card move-check', role: 'status', hidden: true });
  grid = new Grid(gridBox, moveCheck, loadTimetable);
  return [
    card({ title: t('tt.s1'), id: 'sec-import', body: [
      el('p', { class: 'muted' }, t('tt.s1.what'), ' ', TEMPLATES.map((n) => el('a', { href: `/api/scheduler/templates/${n}.csv`, class: 'chip', text: `${n}.csv` }))),
      el('form', { id: 'import-form', class: 'fields' }, files.wrap, button({ text: t('tt.import'), kind: 'primary', type: 'submit' })),
      progress({ label: t('tt.importing'), id: 'import-progress' }),
      el('p', { id: 'import-status', class: 'status', role: 'status' }), problems,
      el('p', { id: 'county-summary' })] }),
    card({ title: t('tt.s2'), id: 'sec-solve', body: [
      el('div', { class: 'fields' }, button({ text: t('tt.solve'), kind: 'primary', id: 'solve', onclick: runSolver }), replan.wrap),
      progress({ label: t('tt.solve'), id: 'solve-progress' }), el('p', { id: 'solve-status', class: 'status', role: 'status' })] }),
    card({ title: t('tt.s3'), id: 'sec-grid', body: [
      el('p', { id: 'tt-summary' }),
      el('div', { class: 'fields' }, view.wrap, entity.wrap,
        button({ text: t('tt.publish'), kind: 'primary', id: 'publish', onclick: publish }),
        el('a', { class: 'btn secondary', id: 'ical', href: '#', hidden: true, text: t('tt.ical') })),
      el('p', { id: 'publish-status', class: 'status', role: 'status' }),
      el('p', { class: 'muted', text: t('tt.hint') }), gridBox, moveCheck,
      el('h4', { text: t('tt.unplaced') }), unplaced, el('h4', { text: t('tt.rules') }), el('ul', { id: 'violations', class: 'violations' })] }),
    card({ title: t('tt.s4'), id: 'sec-supervision', body: [
      el('form', { class: 'fields', onsubmit: (e) => { e.preventDefault(); loadSupervision(); } }, since.wrap, until.wrap,
        button({ text: t('sup.load'), kind: 'primary', type: 'submit', id: 'load-supervision' }),
        el('a', { class: 'btn secondary', id: 'supervision-csv', href: '/api/scheduler/supervision?format=csv', text: t('sup.csv') })),
      el('div', { id: 'supervision-box' })] }),
  ];
}

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('tt.title'), user });
  document.getElementById('main').replaceChildren(el('div', { class: 'page', id: 'app' },
    pageHead(t('tt.title'), { sub: t('tt.sub') }), ...sections()));
  $('#import-form').addEventListener('submit', importCounty);
  try {
    showSummary((await api('/api/scheduler/county')).summary);
  } catch {
    $('#county-summary').replaceChildren(emptyState({ title: t('tt.noCounty'), next: t('tt.noCounty.next') }));
  }
  await loadTimetable();
});
