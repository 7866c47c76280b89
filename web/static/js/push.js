// The remote classroom's screen before a lesson (?code=<join code>), or the assistant's list when logged in.
import { t } from '../i18n.js';
import { pageHead } from './components.js';
import { el } from './dom.js';
import { renderPush } from './push-list.js';
import { params, runPage, topBar } from './ui.js';

runPage(async () => {
  topBar({ title: t('push.title') });
  const list = el('div', { id: 'push' });
  document.getElementById('main').replaceChildren(el('div', { class: 'page' }, pageHead(t('push.title')), list));
  const code = params.get('code') || '';
  try {
    await renderPush(list, code);
  } catch (e) {
    if (code || e.status !== 401) throw e;
    list.replaceChildren(el('p', { class: 'muted', id: 'push-nocode', text: t('push.noCode') }));
    return;
  }
  setInterval(() => renderPush(list, params.get('code') || '').catch(() => {}), 60000);
});
