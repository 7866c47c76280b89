// /today: the logged-in teacher's lessons of the day (?classroom= for one classroom, ?code= for a classroom PC).
import { t } from '../i18n.js';
import { pageHead } from './components.js';
import { el, params, runPage, topBar } from './ui.js';
import { requireUser } from './api.js';
import { renderToday } from '../today.js';

runPage(async () => {
  const code = params.get('code');
  const user = code ? null : await requireUser();
  topBar({ title: t('today.page.title'), user, home: !code });
  const box = el('section', { class: 'card', id: 'today' });
  document.getElementById('main').replaceChildren(el('div', { class: 'page' },
    pageHead(t('today.page.title'), { sub: t('today.page.sub') }), box));
  await renderToday(box, { code, classroomId: params.get('classroom'), date: params.get('date') });
});
