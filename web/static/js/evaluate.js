// 评课 of one lesson: observers and co-teachers score each dimension of the county's rubric (1–5) with
// comments and moments of the recording; the lead teacher and coordinators see the aggregate.
import { api, requireUser } from './api.js';
import { t } from '../i18n.js';
import { barChart } from './chart.js';
import { card, emptyState, pageHead, showFieldError } from './components.js';
import { el, errorText, params, runPage, toast, topBar } from './ui.js';

const roomId = params.get('room') || '';
const url = `/api/rooms/${encodeURIComponent(roomId)}/evaluation`;

export const mmss = (t0) => `${Math.floor(t0 / 60)}:${String(Math.floor(t0 % 60)).padStart(2, '0')}`;
function parseMmss(text) {
  const m = /^\s*(\d{1,3}):([0-5]\d)\s*$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

function scoreRow(d, mine) {
  const radios = [1, 2, 3, 4, 5].map((n) => el('label', { class: 'score' },
    el('input', { type: 'radio', name: `score-${d.key}`, value: String(n), checked: mine?.scores?.[d.key] === n ? true : null }), String(n)));
  const note = el('input', { class: 'score-note', name: `note-${d.key}`, maxlength: '500', placeholder: t('ev.note'), value: mine?.notes?.[d.key] || '', 'aria-label': `${d.name} ${t('ev.note')}` });
  const error = el('span', { class: 'field-error', role: 'alert' });
  const wrap = el('fieldset', { class: 'field score-row', dataset: { field: `scores.${d.key}` } },
    el('legend', {}, el('strong', { text: d.name }), el('span', { class: 'muted', text: ` · ${t('ev.weight', { w: d.weight })}` })),
    d.description ? el('p', { class: 'field-hint', text: d.description }) : null,
    el('div', { class: 'scores', role: 'radiogroup', 'aria-label': d.name }, radios), note, error);
  return { wrap, input: radios[0].querySelector('input'), setError: (text) => { error.textContent = text || ''; wrap.classList.toggle('invalid', !!text); } };
}

function evaluationForm(data, onSaved) {
  const dims = data.rubric.dimensions;
  const mine = data.mine;
  const rows = Object.fromEntries(dims.map((d) => [`scores.${d.key}`, scoreRow(d, mine)]));
  const comment = el('textarea', { id: 'ev-comment', rows: 3, maxlength: '2000', 'aria-label': t('ev.comment') });
  comment.value = mine?.comment || '';
  const moments = [...(mine?.moments || [])];
  const list = el('ol', { class: 'markers', id: 'ev-moments' });
  const renderMoments = () => list.replaceChildren(...moments.sort((a, b) => a.t - b.t).map((m, i) => el('li', {},
    el('code', { text: mmss(m.t) }), ` ${m.note} `,
    el('button', { type: 'button', class: 'btn ghost small', text: t('ev.remove'), onclick: () => { moments.splice(i, 1); renderMoments(); } }))));
  const at = el('input', { id: 'ev-moment-at', placeholder: 'mm:ss', size: 6, 'aria-label': t('ev.at') });
  const what = el('input', { id: 'ev-moment-note', maxlength: '200', placeholder: t('ev.momentNote'), 'aria-label': t('ev.momentNote') });
  const liveAt = data.room.live_at ? Date.parse(data.room.live_at) : null;
  const now = el('button', { type: 'button', class: 'btn small', id: 'ev-now', text: t('ev.now'), disabled: !liveAt || data.room.state !== 'live',
    onclick: () => { at.value = mmss(Math.max(0, (Date.now() - liveAt) / 1000)); what.focus(); } });
  const add = el('button', { type: 'button', class: 'btn small', id: 'ev-moment-add', text: t('ev.addMoment'), onclick: () => {
    const sec = parseMmss(at.value);
    if (sec === null || !what.value.trim()) { toast(t('ev.momentHint'), 'error'); return; }
    moments.push({ t: sec, note: what.value.trim() });
    at.value = '';
    what.value = '';
    renderMoments();
  } });
  const formError = el('p', { class: 'form-error', role: 'alert' });
  const submit = el('button', { type: 'submit', class: 'btn primary', id: 'ev-submit', text: mine ? t('ev.update') : t('ev.submit') });
  const form = el('form', { class: 'form evaluation', id: 'ev-form' }, Object.values(rows).map((r) => r.wrap),
    el('label', {}, t('ev.comment'), comment),
    el('div', { class: 'field' }, el('strong', { text: t('ev.moments') }), el('p', { class: 'field-hint', text: t('ev.momentsHint') }),
      list, el('div', { class: 'row' }, now, at, what, add)),
    formError, submit);
  renderMoments();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const scores = {};
    const notes = {};
    for (const d of dims) {
      const picked = form.querySelector(`input[name="score-${d.key}"]:checked`);
      if (picked) scores[d.key] = Number(picked.value);
      const n = form.querySelector(`input[name="note-${d.key}"]`).value.trim();
      if (n) notes[d.key] = n;
    }
    submit.disabled = true;
    try {
      const { evaluation } = await api(url, { method: 'PUT', body: { scores, notes, comment: comment.value, moments } });
      for (const r of Object.values(rows)) r.setError('');
      formError.textContent = '';
      toast(t('ev.saved', { total: evaluation.total }), 'ok');
      form.dataset.saved = String(evaluation.total);
      submit.textContent = t('ev.update');
      onSaved?.();
    } catch (err) {
      showFieldError(form, rows, err, errorText(err));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export function aggregateView(agg) {
  if (!agg.count) return emptyState({ title: t('ev.none'), next: t('ev.none.next') });
  return el('div', { class: 'ev-aggregate', id: 'ev-aggregate', dataset: { count: String(agg.count), total: String(agg.total) } },
    el('p', { class: 'ev-total' }, el('strong', { text: String(agg.total) }), ` / 100 · ${t('ev.count', { n: agg.count })}`),
    barChart({ id: 'ev-chart', title: t('ev.byDimension'), width: 520, height: 200,
      series: [{ key: 'mean', label: t('ev.mean'), cls: 'held' }],
      points: agg.dimensions.map((d) => ({ label: d.name, values: { mean: d.mean } })) }),
    agg.comments?.length ? el('ul', { class: 'ev-comments', id: 'ev-comments' }, agg.comments.map((c) => el('li', {},
      el('strong', { text: `${c.evaluator}（${t(`ev.role.${c.role}`)}，${c.total}）` }), el('p', { text: c.comment }),
      Object.values(c.notes || {}).map((n) => el('p', { class: 'muted', text: n }))))) : null,
    agg.moments?.length ? el('ol', { class: 'markers', id: 'ev-agg-moments' }, agg.moments.map((m) =>
      el('li', {}, el('code', { text: mmss(m.t) }), ` ${m.note} · ${m.evaluator}`))) : null);
}

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('ev.title'), user });
  const main = document.getElementById('main');
  const render = async () => {
    const data = await api(url);
    const parts = [pageHead(`${t('ev.title')} · ${data.room.title}`, { sub: t(`kind.${data.room.kind}`),
      actions: user.role === 'coordinator' ? [el('a', { class: 'btn secondary', href: '/rubric', text: t('ev.editRubric') })] : [] })];
    if (data.can_evaluate) parts.push(card({ title: t('ev.mine'), id: 'ev-mine', body: [evaluationForm(data, () => (data.can_see_aggregate ? render() : null))] }));
    if (data.can_see_aggregate) parts.push(card({ title: t('ev.aggregate'), id: 'ev-result', body: [aggregateView(data.aggregate)] }));
    if (!data.can_evaluate && !data.can_see_aggregate) parts.push(emptyState({ title: t('err.forbidden') }));
    main.replaceChildren(el('div', { class: 'page' }, parts));
  };
  await render();
});
