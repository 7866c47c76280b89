// 本节 in the teacher console: the lesson's planned section with its knowledge points, and a one-click correction.
import { api } from './api.js';
import { t } from '../i18n.js';
import { el } from './dom.js';
import { errorText, toast } from './ui.js';

export function sectionPanel(roomId) {
  const label = el('strong', { id: 'section-label' });
  const kps = el('p', { class: 'meta', id: 'section-kps' });
  const choices = el('select', { id: 'section-choices', 'aria-label': t('prog.correct') });
  const nextBtn = el('button', { class: 'btn small', id: 'section-next', text: t('prog.next') });
  const panel = el('section', { class: 'panel', id: 'section' }, el('h2', { text: t('prog.title') }),
    el('p', {}, t('prog.now'), label), kps, el('div', { class: 'row' }, choices, nextBtn));
  let state = null;

  function show(data) {
    state = data;
    if (!data.section) {
      label.textContent = t('prog.none');
      choices.hidden = nextBtn.hidden = true;
      return;
    }
    label.textContent = data.section.label;
    kps.textContent = data.section.knowledge.length ? t('prog.kp', { names: data.section.knowledge.join('、') }) : '';
    choices.replaceChildren(...data.choices.map((c) =>
      el('option', { value: c.node_id, text: c.label, selected: c.node_id === data.section.node_id })));
  }

  async function correct(nodeId) {
    try {
      show(await api(`/api/progress/rooms/${encodeURIComponent(roomId)}/correct`, { method: 'POST', body: { node_id: nodeId } }));
      toast(t('prog.corrected', { label: state.section.label }));
    } catch (e) {
      toast(errorText(e), 'error');
    }
  }

  choices.addEventListener('change', () => correct(Number(choices.value)));
  nextBtn.addEventListener('click', () => {
    const i = state.choices.findIndex((c) => c.node_id === state.section.node_id);
    if (i >= 0 && i + 1 < state.choices.length) correct(state.choices[i + 1].node_id);
  });
  api(`/api/progress/rooms/${encodeURIComponent(roomId)}`).then(show).catch(() => { panel.hidden = true; });
  return panel;
}
