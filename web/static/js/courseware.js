// 上传课件: a teacher uploads a PDF, PPTX, DOCX or image filed under a textbook section (?node= from the progress
// editor, or chosen level by level here). It becomes a draft tagged with the section's knowledge points; once
// submitted and published it reaches the remote classrooms' push list before that section's lesson.
import { api, requireUser } from './api.js';
import { t } from '../i18n.js';
import { button, card, field, pageHead, progress, showFieldError } from './components.js';
import { el } from './dom.js';
import { errorText, params, runPage, toast, topBar } from './ui.js';

const ACCEPT = '.pdf,.pptx,.docx,.png,.jpg,.jpeg,.gif,.webp';

/** Selects down the textbook tree (学段 → … → 节); `onPick(node)` when a chapter or section is chosen. */
async function treePicker(box, onPick, parent = null) {
  const { nodes } = await api(`/api/library/textbooks${parent ? `?parent=${parent}` : ''}`);
  if (!nodes.length) return;
  const level = nodes[0].level_name;
  const choice = field({ label: level, name: `tree-${nodes[0].level}`, type: 'select',
    options: [{ value: '', label: t('cw.choose', { level }) }, ...nodes.map((n) => ({ value: n.id, label: n.name }))] });
  box.append(choice.wrap);
  choice.input.addEventListener('change', async () => {
    while (choice.wrap.nextSibling) choice.wrap.nextSibling.remove();
    const picked = nodes.find((n) => String(n.id) === choice.input.value);
    onPick(picked && ['chapter', 'section'].includes(picked.level) ? picked : null);
    if (picked && !picked.leaf) await treePicker(box, onPick, picked.id);
  });
}

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('cw.title'), user });
  let node = null;
  const where = el('p', { class: 'meta', id: 'cw-section', text: t('cw.noSection') });
  const setNode = (n, label) => {
    node = n;
    where.textContent = n ? t('cw.section', { label }) : t('cw.noSection');
    where.dataset.node = n ? String(n.id) : '';
  };
  const tree = el('div', { class: 'row', id: 'cw-tree' });
  if (params.get('node')) {
    const { trail } = await api(`/api/library/textbooks?parent=${encodeURIComponent(params.get('node'))}`);
    const last = trail.at(-1);
    if (last) setNode(last, trail.map((x) => x.name).join(' › '));
  }
  await treePicker(tree, (n) => setNode(n, n ? n.name : ''));
  const fields = {
    file: field({ label: t('cw.file'), name: 'file', type: 'file', hint: t('cw.fileHint'), attrs: { accept: ACCEPT } }),
    title: field({ label: t('cw.titleField'), name: 'title', hint: t('cw.titleHint') }),
    description: field({ label: t('cw.description'), name: 'description', type: 'textarea' }),
  };
  fields.textbook_node_id = { wrap: where, input: tree, setError: (text) => { where.textContent = text || where.textContent; } };
  const bar = progress({ label: t('cw.uploading') });
  bar.hidden = true;
  const done = el('div', { id: 'cw-done' });
  const form = el('form', { id: 'cw-form', novalidate: true },
    fields.file.wrap, fields.title.wrap, fields.description.wrap, el('p', { class: 'form-error', role: 'alert' }),
    button({ text: t('cw.upload'), kind: 'primary', type: 'submit', id: 'cw-submit' }), bar);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = fields.file.input.files[0];
    if (!node) return showFieldError(form, fields, { field: 'textbook_node_id' }, t('cw.noSection'));
    if (!file) return showFieldError(form, fields, { field: 'file' }, t('cw.noFile'));
    const body = new FormData();
    body.append('textbook_node_id', String(node.id));
    body.append('title', fields.title.input.value.trim());
    body.append('description', fields.description.input.value.trim());
    body.append('file', file, file.name);
    bar.hidden = false;
    bar.set(0, 0, t('cw.uploading'));
    try {
      const resp = await fetch('/api/library/courseware', { method: 'POST', body, credentials: 'same-origin' });
      const data = await resp.json();
      if (!resp.ok) {
        const err = data.error || {};
        return showFieldError(form, fields, err, err.message_zh && document.documentElement.lang.startsWith('zh') ? err.message_zh : (err.message || errorText(err)));
      }
      const r = data.resource;
      const submit = button({ text: t('cw.submit'), kind: 'primary', id: 'cw-review', onclick: async () => {
        try {
          await api(`/api/library/resources/${r.id}/review`, { method: 'POST', body: { action: 'submit' } });
          toast(t('cw.submitted'), 'ok');
          submit.disabled = true;
        } catch (err) { toast(errorText(err), 'error'); }
      } });
      done.replaceChildren(card({ id: 'cw-result', title: t('cw.done', { title: r.title }), body: [
        el('p', { class: 'meta', text: t('cw.facts', { type: r.file.type.toUpperCase(), pages: r.file.pages, section: r.textbook.map((x) => x.name).slice(-2).join(' › ') }) }),
        el('p', { class: 'meta', id: 'cw-points', text: t('cw.points', { names: r.knowledge_points.map((k) => k.name).join('、') || '—' }) }),
        el('a', { href: `/api/library/resources/${r.id}/file`, target: '_blank', rel: 'noopener', text: t('cw.open') })],
        actions: [submit] }));
      done.dataset.resource = String(r.id);
      showFieldError(form, fields, null, '');
      form.reset();
    } catch (err) {
      showFieldError(form, fields, null, errorText({ code: 'network' }));
    } finally {
      bar.hidden = true;
    }
  });
  document.getElementById('main').replaceChildren(el('div', { class: 'page' },
    pageHead(t('cw.title'), { sub: t('cw.sub') }),
    card({ title: t('cw.where'), body: [where, tree] }),
    card({ title: t('cw.what'), body: [form] }), done));
});
