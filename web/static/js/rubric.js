// The county's 评课 rubric per room kind, edited by the coordinator: dimensions, weights (adding up to 100),
// what each dimension looks at. Lessons already evaluated keep the rubric they were scored with.
import { api, requireUser } from './api.js';
import { t } from '../i18n.js';
import { card, emptyState, pageHead } from './components.js';
import { el, errorText, runPage, toast, topBar } from './ui.js';

function editor(rubric) {
  const rows = el('tbody', {});
  const sum = el('span', { class: 'badge', id: 'rubric-sum' });
  const error = el('p', { class: 'form-error', id: 'rubric-error', role: 'alert' });
  const name = el('input', { id: 'rubric-name', value: rubric.name, maxlength: '120', 'aria-label': t('rb.name') });
  const update = () => {
    const total = [...rows.querySelectorAll('[name=weight]')].reduce((a, x) => a + (parseInt(x.value, 10) || 0), 0);
    sum.textContent = t('rb.sum', { n: total });
    sum.classList.toggle('b-poor', total !== 100);
  };
  const addRow = (d = { key: '', name: '', weight: 10, description: '' }) => {
    const tr = el('tr', { dataset: { key: d.key } },
      el('td', {}, el('input', { name: 'name', value: d.name, maxlength: '40', 'aria-label': t('rb.dimension') })),
      el('td', { class: 'num' }, el('input', { name: 'weight', type: 'number', min: '1', max: '100', value: String(d.weight), 'aria-label': t('rb.weight'), oninput: update })),
      el('td', {}, el('input', { name: 'description', value: d.description || '', maxlength: '200', 'aria-label': t('rb.description') })),
      el('td', {}, el('button', { type: 'button', class: 'btn ghost small', text: t('ev.remove'), onclick: () => { tr.remove(); update(); } })));
    rows.append(tr);
    update();
  };
  rubric.dimensions.forEach(addRow);
  const save = el('button', { type: 'submit', class: 'btn primary', id: 'rubric-save', text: t('common.save') });
  const form = el('form', { class: 'form rubric', dataset: { kind: rubric.kind } },
    el('label', {}, t('rb.name'), name),
    el('table', { class: 'table' }, el('thead', {}, el('tr', {}, [t('rb.dimension'), t('rb.weight'), t('rb.description'), ''].map((h) => el('th', { text: h })))), rows),
    el('div', { class: 'row' }, el('button', { type: 'button', class: 'btn small', id: 'rubric-add', text: t('rb.add'), onclick: () => addRow() }), sum),
    error, save);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const dimensions = [...rows.children].map((tr) => ({
      key: tr.dataset.key || '', name: tr.querySelector('[name=name]').value.trim(),
      weight: parseInt(tr.querySelector('[name=weight]').value, 10) || 0, description: tr.querySelector('[name=description]').value.trim(),
    }));
    try {
      const { rubric: saved } = await api(`/api/rubrics/${rubric.kind}`, { method: 'PUT', body: { name: name.value, dimensions } });
      error.textContent = '';
      [...rows.children].forEach((tr, i) => { tr.dataset.key = saved.dimensions[i].key; });
      form.dataset.saved = 'true';
      toast(t('rb.saved'), 'ok');
    } catch (err) {
      error.textContent = errorText(err);
    }
  });
  return form;
}

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('rb.title'), user });
  const main = document.getElementById('main');
  if (user.role !== 'coordinator') {
    main.replaceChildren(el('div', { class: 'page' }, emptyState({ title: t('err.forbidden'), action: { text: t('common.back'), href: '/home' } })));
    return;
  }
  const { rubrics } = await api('/api/rubrics');
  main.replaceChildren(el('div', { class: 'page' }, pageHead(t('rb.title'), { sub: t('rb.sub') }),
    rubrics.map((r) => card({ title: t(`kind.${r.kind}`), id: `rubric-${r.kind}`, body: [editor(r)] }))));
});
