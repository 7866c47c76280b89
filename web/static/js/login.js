// Login for teachers, coordinators and observers; classroom screens use their code instead.
import { login } from './api.js';
import { t } from '../i18n.js';
import { field, showFieldError } from './components.js';
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
  const fields = {
    username: field({ label: t('login.username'), name: 'username', required: true, attrs: { autocomplete: 'username' } }),
    password: field({ label: t('login.password'), name: 'password', type: 'password', required: true, attrs: { autocomplete: 'current-password' } }),
  };
  fields.username.input.id = 'username';
  fields.password.input.id = 'password';
  fields.username.wrap.querySelector('label').htmlFor = 'username';
  fields.password.wrap.querySelector('label').htmlFor = 'password';
  const error = el('div', { class: 'form-error', id: 'login-error', role: 'alert' });
  const submit = el('button', { class: 'btn primary big', type: 'submit', id: 'login-submit', text: t('login.submit') });
  const form = el('form', { class: 'form panel center-card', id: 'login-form', novalidate: true },
    el('h2', { text: t('login.title') }),
    el('p', { class: 'muted', text: t('app.tagline') }),
    fields.username.wrap, fields.password.wrap,
    error, submit,
    el('div', { class: 'login-links' },
      el('a', { href: '/classroom', id: 'go-classroom', text: t('login.classroom') }),
      el('a', { href: '/devicecheck', id: 'go-devicecheck', text: t('nav.devicecheck') })),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    let missing = false;
    for (const [name, f] of Object.entries(fields)) {
      const empty = !f.input.value.trim();
      f.setError(empty ? t('login.required') : '');
      if (empty && !missing) f.input.focus();
      missing ||= empty;
      if (name === 'password' && missing) break;
    }
    if (missing) return;
    submit.disabled = true;
    try {
      await login(fields.username.input.value.trim(), fields.password.input.value);
      const next = params.get('next');
      location.href = safeNext(next);
    } catch (err) {
      // A wrong name or password is one sentence for the whole form (never say which one was wrong).
      if (err.code === 'bad_credentials' || !fields[err.field]) error.textContent = errorText(err);
      else showFieldError(form, fields, err, errorText(err));
      submit.disabled = false;
    }
  });
  document.getElementById('main').replaceChildren(form);
  fields.username.input.focus();
});
