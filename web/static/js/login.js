// Login for teachers, coordinators and observers; classroom screens use their code instead.
import { login } from './api.js';
import { t } from '../i18n.js';
import { el, errorText, params, runPage, topBar } from './ui.js';

/** Only a path on this site: never `//evil.example`, `/\\evil.example` or `https://…` (open redirect). */
export function safeNext(next) {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/home';
  try {
    const url = new URL(next, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : '/home';
  } catch {
    return '/home';
  }
}

runPage(async () => {
  topBar({ title: t('login.title'), home: false });
  const error = el('div', { class: 'error', id: 'login-error', role: 'alert' });
  const username = el('input', { name: 'username', id: 'username', autocomplete: 'username', required: true });
  const password = el('input', { name: 'password', id: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = el('button', { class: 'btn primary big', type: 'submit', id: 'login-submit', text: t('login.submit') });
  const form = el('form', { class: 'form panel center-card' },
    el('h2', { text: t('login.title') }),
    el('label', {}, t('login.username'), username),
    el('label', {}, t('login.password'), password),
    error, submit,
    el('a', { href: '/classroom', text: t('login.classroom') }),
    el('a', { href: '/devicecheck', text: t('nav.devicecheck') }),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    try {
      await login(username.value.trim(), password.value);
      const next = params.get('next');
      location.href = safeNext(next);
    } catch (err) {
      error.textContent = errorText(err);
      submit.disabled = false;
    }
  });
  document.getElementById('main').replaceChildren(form);
  username.focus();
});
