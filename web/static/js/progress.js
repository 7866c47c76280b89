// 教学进度: the coordinator's overview (ahead / on track / behind per teaching group, planned vs held) and a
// plan's editor (the edition and 册 it teaches, reorder, lesson counts, weeks; the textbook's sections beside it;
// CSV/XLSX/JSON files).
import { api, requireUser } from './api.js';
import { lang, t } from '../i18n.js';
import { button, emptyState, field, pageHead } from './components.js';
import { el } from './dom.js';
import { subjectName } from './subjects.js';
import { confirmDialog, errorText, params, runPage, toast, topBar } from './ui.js';

/** The edition and 册 picker: choosing another lays the plan afresh from its sections (after a confirmation). */
function volumePicker(main, id, plan) {
  const choice = field({
    label: t('prog.volume'), name: 'volume', type: 'select', value: plan.volume_node_id ?? '',
    options: [...(plan.volume_node_id == null ? [{ value: '', label: volumeName(plan.volume) || t('prog.volume.none') }] : []),
      ...plan.volumes.map((v) => ({ value: v.id, label: volumeName(v.label) }))],
    hint: t('prog.volume.hint'), attrs: { disabled: plan.can_edit ? null : true },
  });
  choice.input.addEventListener('change', async () => {
    const picked = plan.volumes.find((v) => String(v.id) === choice.input.value);
    if (!picked) return;
    if (!(await confirmDialog(t('prog.volume.confirm', { label: volumeName(picked.label) }), t('prog.volume.yes'), t('common.cancel')))) {
      choice.input.value = plan.volume_node_id ?? '';
      return;
    }
    try {
      await api(`/api/progress/plans/${id}/volume`, { method: 'PUT', body: { volume_node_id: picked.id } });
      toast(t('prog.volume.done', { label: volumeName(picked.label) }), 'ok');
      await editor(main, id);
    } catch (e) {
      choice.setError(errorText(e));
    }
  });
  return el('section', { class: 'card', id: 'volume-card' }, choice.wrap);
}

const GRADES = { 一: 1, 二: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9, 高一: 10, 高二: 11, 高三: 12 };
const EDITIONS = { 人教版: 'prog.edition.pep', '人教版（PEP，三年级起点）': 'prog.edition.pep3' };
const VOLUMES = { 上册: 'prog.vol.1', 下册: 'prog.vol.2' };

/** A teaching group's title (王老师 · 四年级英语) in the page's language. */
function groupTitle(p) {
  return t('prog.group', { teacher: p.teacher.name, grade: p.grade, subject: subjectName(p.subject_name) });
}

/** A 册's label from the catalogue ("人教版 四年级英语 上册") in the page's language; a label of another
 * form (a county's own catalogue) shows as it is. */
function volumeName(label) {
  const m = /^(\S+) (?:(高[一二三])|([一二三四五六七八九])年级)(\S+) (上册|下册)$/.exec(label || '');
  if (!m || lang() === 'zh-CN') return label || '';
  const edition = EDITIONS[m[1]] ? t(EDITIONS[m[1]]) : m[1];
  return t('prog.volumeName', { edition, grade: GRADES[m[2] || m[3]], subject: subjectName(m[4]), volume: t(VOLUMES[m[5]]) });
}

function verdict(st) {
  return el('span', { class: `badge verdict ${st.verdict}`, text: t(`prog.verdict.${st.verdict}`, { n: st.by }) });
}

function overview(plans) {
  if (!plans.length) return emptyState({ title: t('prog.plans.none') });
  return el('div', { class: 'cards', id: 'plans' }, plans.map((p) => el('article', { class: 'card', dataset: { plan: p.id } },
    el('h3', { class: 'card-title', text: groupTitle(p) }),
    el('p', { class: 'meta', text: volumeName(p.volume) }), verdict(p.status),
    el('p', { class: 'meta', text: t('prog.held', { planned: p.lessons_planned, held: p.lessons_held }) }),
    el('a', { class: 'btn', href: `/progress?plan=${p.id}`, text: t('prog.edit') }))));
}

async function editor(main, id) {
  const plan = (await api(`/api/progress/plans/${id}`)).plan;
  let items = plan.items.map((i) => ({ ...i }));
  const table = el('tbody', { id: 'items' });
  const errors = el('ul', { class: 'errors', id: 'import-errors' });
  const render = () => table.replaceChildren(...items.map((it, n) => el('tr', { dataset: { node: it.node_id } },
    el('td', { text: it.label }),
    el('td', {}, el('input', { type: 'number', min: 1, max: 40, value: it.lessons, class: 'lessons', 'aria-label': t('prog.lessons'),
      oninput: (e) => { it.lessons = Number(e.target.value); } })),
    el('td', {}, el('input', { type: 'number', min: 1, max: 30, value: it.week, class: 'week', 'aria-label': t('prog.week'),
      oninput: (e) => { it.week = Number(e.target.value); } })),
    el('td', {}, plan.can_edit ? [
      el('a', { class: 'btn small', href: `/courseware?node=${it.node_id}`, dataset: { action: 'courseware' }, text: t('prog.courseware') }),
      button({ text: t('prog.up'), small: true, onclick: () => { if (n) { [items[n - 1], items[n]] = [items[n], items[n - 1]]; render(); } } }),
      button({ text: t('prog.down'), small: true, onclick: () => { if (n + 1 < items.length) { [items[n + 1], items[n]] = [items[n], items[n + 1]]; render(); } } }),
      button({ text: t('prog.remove'), small: true, onclick: () => { items.splice(n, 1); render(); } })] : null))));
  render();
  const tree = el('ul', { class: 'catalogue', id: 'catalogue' }, plan.catalogue.map((c) => el('li', {},
    el('span', { text: c.label }), plan.can_edit ? button({ text: t('prog.add'), small: true, onclick: () => {
      if (!items.some((i) => i.node_id === c.node_id)) { items.push({ ...c, lessons: 1, week: items.at(-1)?.week || 1 }); render(); }
    } }) : null)));
  const file = el('input', { type: 'file', id: 'import-file', accept: '.csv,.xlsx,.json' });
  file.addEventListener('change', async () => {
    const f = file.files[0];
    if (!f) return;
    const fmt = f.name.split('.').pop().toLowerCase();
    const resp = await fetch(`/api/progress/plans/${id}/import?format=${fmt}`, { method: 'POST', body: await f.arrayBuffer(), credentials: 'same-origin' });
    const data = await resp.json();
    if (resp.ok) { toast(t('prog.imported', { n: data.imported })); await editor(main, id); return; }
    errors.replaceChildren(...(data.problems || [data.error]).map((p) => el('li', { text: t('prog.rowError', p) })));
  });
  const save = button({ text: t('prog.save'), kind: 'primary', id: 'save', onclick: async () => {
    try {
      await api(`/api/progress/plans/${id}/items`, { method: 'PUT', body: { items: items.map(({ node_id, lessons, week }) => ({ node_id, lessons, week })) } });
      toast(t('prog.saved'));
    } catch (e) { toast(errorText(e), 'error'); }
  } });
  const links = ['csv', 'xlsx', 'json'].map((fmt) => el('a', { class: 'btn small', href: `/api/progress/plans/${id}/export?format=${fmt}`, text: t('prog.export', { fmt: fmt.toUpperCase() }) }));
  main.replaceChildren(el('div', { class: 'page' },
    pageHead(groupTitle(plan), { sub: volumeName(plan.volume), actions: [verdict(plan.status), ...links,
      el('a', { class: 'btn small', href: `/api/progress/plans/${id}/template?format=csv`, text: t('prog.template') })] }),
    volumePicker(main, id, plan),
    el('div', { class: 'split' },
      el('section', { class: 'card' }, el('table', { class: 'table' },
        el('thead', {}, el('tr', {}, ['prog.section', 'prog.lessons', 'prog.week', ''].map((k) => el('th', { text: k ? t(k) : '' })))), table),
        plan.can_edit ? el('div', { class: 'row' }, save, el('label', {}, t('prog.import'), file)) : null, errors),
      el('section', { class: 'card' }, el('h3', { class: 'card-title', text: t('prog.catalogue') }), tree))));
}

runPage(async () => {
  await requireUser();
  topBar({ title: t('prog.title') });
  const main = document.getElementById('main');
  const id = params.get('plan');
  if (id) return editor(main, id);
  const { plans } = await api('/api/progress/plans');
  main.replaceChildren(el('div', { class: 'page' }, pageHead(t('prog.title')), overview(plans)));
});
