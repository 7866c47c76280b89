// 管理: the county's daily edits — schools, classrooms with their join codes (rotate, print a join card with a
// QR code), accounts (create, deactivate, one-time password reset, role change, each confirmed), searchable
// and paged for a county of 300 classrooms. Bulk changes go through 排课's import.
import { api, requireUser } from './api.js';
import { t } from '../i18n.js';
import { button, card, dataTable, emptyState, field, pageHead, showFieldError } from './components.js';
import { confirmDialog, el, errorText, runPage, toast, topBar } from './ui.js';

const ROLES = ['teacher', 'coordinator', 'observer', 'viewer'];

/** A small create form: fields, a submit button, errors shown next to the field the server names. */
function createForm(id, fields, submitText, onSubmit) {
  const formError = el('p', { class: 'form-error', role: 'alert' });
  const form = el('form', { class: 'form inline-form', id }, Object.values(fields).map((f) => f.wrap), formError,
    el('button', { class: 'btn primary', type: 'submit', text: submitText }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await onSubmit();
      for (const f of Object.values(fields)) f.setError('');
      formError.textContent = '';
      form.reset();
    } catch (err) {
      showFieldError(form, fields, err, errorText(err));
    }
  });
  return form;
}

runPage(async () => {
  const user = await requireUser();
  topBar({ title: t('admin.title'), user });
  const main = document.getElementById('main');
  if (user.role !== 'coordinator') {
    main.replaceChildren(el('div', { class: 'page' }, emptyState({ title: t('err.forbidden'), next: t('admin.onlyCoordinator'), action: { text: t('common.back'), href: '/home' } })));
    return;
  }
  let [{ schools }, { classrooms }, { users }] = await Promise.all([api('/api/schools'), api('/api/classrooms'), api('/api/users')]);
  const schoolName = () => Object.fromEntries(schools.map((s) => [s.id, s.name]));
  const search = el('input', { type: 'search', id: 'admin-search', placeholder: t('admin.search'), 'aria-label': t('admin.search') });
  const match = (...texts) => {
    const q = search.value.trim().toLowerCase();
    return !q || texts.some((x) => String(x ?? '').toLowerCase().includes(q));
  };

  const schoolTable = dataTable({
    id: 'admin-schools', rows: schools, pageSize: 10,
    columns: [{ key: 'name', label: t('admin.school') }, { key: 'kind', label: t('admin.kind'), value: (s) => t(`admin.kind.${s.kind}`) },
      { key: 'count', label: t('admin.classrooms'), num: true, value: (s) => classrooms.filter((c) => c.school_id === s.id).length }],
  });
  const classTable = dataTable({
    id: 'admin-classrooms', pageSize: 20, rows: classrooms,
    columns: [
      { key: 'school', label: t('admin.school'), value: (c) => schoolName()[c.school_id] || '' },
      { key: 'name', label: t('admin.classroom') },
      { key: 'grade', label: t('admin.grade'), num: true },
      { key: 'students', label: t('admin.students'), num: true },
      { key: 'join_code', label: t('admin.code'), render: (c) => el('code', { class: 'code', text: c.join_code }) },
      {
        key: 'actions', label: t('admin.actions'), sort: false,
        render: (c) => el('div', { class: 'row' },
          el('a', { class: 'btn small', href: `/joincard?classroom=${c.id}`, target: '_blank', dataset: { action: 'card' }, text: t('admin.card') }),
          button({
            text: t('admin.rotate'), kind: 'danger', small: true, confirm: t('admin.rotateConfirm', { name: `${schoolName()[c.school_id]} ${c.name}` }),
            onclick: async () => {
              try {
                const { classroom } = await api(`/api/classrooms/${c.id}/rotate-code`, { method: 'POST' });
                Object.assign(c, classroom);
                refresh();
                toast(t('admin.rotated', { code: classroom.join_code }), 'ok');
              } catch (err) {
                toast(errorText(err), 'error');
              }
            },
          })),
      },
    ],
  });

  async function changeUser(u, patch, question) {
    if (!(await confirmDialog(question, t('admin.confirm'), t('common.cancel')))) return false;
    try {
      const { user: changed } = await api(`/api/users/${u.id}`, { method: 'PATCH', body: patch });
      Object.assign(u, changed, patch);
      toast(t('admin.changed', { name: u.display_name }), 'ok');
      refresh();
      return true;
    } catch (err) {
      toast(errorText(err), 'error');
      return false;
    }
  }
  const userTable = dataTable({
    id: 'admin-users', rows: users, pageSize: 20,
    columns: [{ key: 'display_name', label: t('admin.name') }, { key: 'username', label: t('admin.username') },
      {
        key: 'role', label: t('admin.role'), value: (u) => t(`home.role.${u.role}`),
        render: (u) => {
          const sel = el('select', { 'aria-label': `${u.display_name} ${t('admin.role')}`, dataset: { action: 'role' } },
            ROLES.map((r) => el('option', { value: r, selected: r === u.role ? true : null, text: t(`home.role.${r}`) })));
          sel.onchange = async () => {
            const ok = await changeUser(u, { role: sel.value }, t('admin.roleConfirm', { name: u.display_name, role: t(`home.role.${sel.value}`) }));
            if (!ok) sel.value = u.role;
          };
          return sel;
        },
      },
      { key: 'school_id', label: t('admin.school'), value: (u) => schoolName()[u.school_id] || '—' },
      { key: 'active', label: t('admin.status'), value: (u) => (u.active === false ? t('admin.inactive') : t('admin.active')) },
      {
        key: 'actions', label: t('admin.actions'), sort: false,
        render: (u) => el('div', { class: 'row' },
          el('button', { class: 'btn small', type: 'button', dataset: { action: 'active' }, text: u.active === false ? t('admin.activate') : t('admin.deactivate'),
            onclick: () => changeUser(u, { active: u.active === false }, t(u.active === false ? 'admin.activateConfirm' : 'admin.deactivateConfirm', { name: u.display_name })) }),
          el('button', { class: 'btn small', type: 'button', dataset: { action: 'reset' }, text: t('admin.reset'),
            onclick: async () => {
              if (!(await confirmDialog(t('admin.resetConfirm', { name: u.display_name }), t('admin.confirm'), t('common.cancel')))) return;
              try {
                const r = await api(`/api/users/${u.id}/reset-code`, { method: 'POST' });
                resetBox.replaceChildren(card({ title: t('admin.resetFor', { name: u.display_name }), body: [
                  el('p', {}, t('admin.resetCode'), el('code', { class: 'code big', id: 'reset-code', text: r.code })),
                  el('p', {}, t('admin.resetLink'), el('input', { readonly: true, id: 'reset-url', value: r.url, size: 60 })),
                  el('p', { class: 'muted', text: t('admin.resetHint') })] }));
                resetBox.scrollIntoView();
              } catch (err) {
                toast(errorText(err), 'error');
              }
            } })),
      }],
  });
  const resetBox = el('div', { id: 'reset-box' });

  function refresh() {
    schoolTable.update(schools.filter((s) => match(s.name)));
    classTable.update(classrooms.filter((c) => match(schoolName()[c.school_id], c.name, c.join_code, c.grade)));
    userTable.update(users.filter((u) => match(u.display_name, u.username, schoolName()[u.school_id])));
  }
  search.addEventListener('input', refresh);

  const schoolOptions = () => schools.map((s) => ({ value: s.id, label: s.name }));
  const sf = {
    name: field({ label: t('admin.school'), name: 'school_name', required: true, attrs: { maxlength: '120' } }),
    kind: field({ label: t('admin.kind'), name: 'school_kind', type: 'select', options: [{ value: 'remote', label: t('admin.kind.remote') }, { value: 'hub', label: t('admin.kind.hub') }] }),
  };
  const cf = {
    school_id: field({ label: t('admin.school'), name: 'classroom_school', type: 'select', options: schoolOptions() }),
    name: field({ label: t('admin.classroom'), name: 'classroom_name', required: true, attrs: { maxlength: '120' } }),
    grade: field({ label: t('admin.grade'), name: 'grade', type: 'number', value: '4', attrs: { min: '0', max: '12' } }),
    students: field({ label: t('admin.students'), name: 'students', type: 'number', value: '30', attrs: { min: '0', max: '200' } }),
  };
  const uf = {
    username: field({ label: t('admin.username'), name: 'username', required: true }),
    display_name: field({ label: t('admin.name'), name: 'display_name', required: true }),
    password: field({ label: t('admin.password'), name: 'password', type: 'password', required: true, hint: t('admin.passwordHint') }),
    role: field({ label: t('admin.role'), name: 'user_role', type: 'select', options: ROLES.map((r) => ({ value: r, label: t(`home.role.${r}`) })) }),
    school_id: field({ label: t('admin.school'), name: 'user_school', type: 'select', options: [{ value: '', label: '—' }, ...schoolOptions()] }),
  };
  const refillSchools = () => {
    for (const sel of [cf.school_id.input, uf.school_id.input]) {
      const keep = sel.value;
      sel.replaceChildren(...(sel === uf.school_id.input ? [el('option', { value: '', text: '—' })] : []),
        ...schools.map((s) => el('option', { value: s.id, text: s.name })));
      sel.value = keep;
    }
  };
  const schoolForm = createForm('new-school', sf, t('admin.addSchool'), async () => {
    const { school } = await api('/api/schools', { method: 'POST', body: { name: sf.name.input.value.trim(), kind: sf.kind.input.value } });
    schools = [...schools, school];
    refillSchools();
    cf.school_id.input.value = String(school.id);
    refresh();
    toast(t('admin.added', { name: school.name }), 'ok');
  });
  const classForm = createForm('new-classroom', cf, t('admin.addClassroom'), async () => {
    const { classroom } = await api('/api/classrooms', { method: 'POST', body: {
      school_id: Number(cf.school_id.input.value), name: cf.name.input.value.trim(),
      grade: Number(cf.grade.input.value || 0), students: Number(cf.students.input.value || 0) } });
    classrooms = [...classrooms, classroom];
    search.value = '';
    refresh();
    toast(t('admin.addedClassroom', { code: classroom.join_code }), 'ok');
  });
  const userForm = createForm('new-user', uf, t('admin.addUser'), async () => {
    const { user: made } = await api('/api/users', { method: 'POST', body: {
      username: uf.username.input.value.trim(), display_name: uf.display_name.input.value.trim(), password: uf.password.input.value,
      role: uf.role.input.value, school_id: uf.school_id.input.value ? Number(uf.school_id.input.value) : null } });
    users = [...users, { ...made, active: true }];
    refresh();
    toast(t('admin.added', { name: made.display_name }), 'ok');
  });

  main.replaceChildren(el('div', { class: 'page' },
    pageHead(t('admin.title'), { sub: t('admin.sub'), actions: [
      el('a', { class: 'btn secondary', href: '/devices', id: 'go-devices', text: t('dev.title') }),
      el('a', { class: 'btn secondary', href: '/rubric', text: t('rb.title') }),
      el('a', { class: 'btn secondary', href: '/timetable', text: t('admin.import') })] }),
    el('div', { class: 'row' }, search),
    el('section', { class: 'card' }, el('h3', { class: 'card-title', text: t('admin.schools') }), schoolTable,
      el('details', {}, el('summary', { text: t('admin.addSchool') }), schoolForm)),
    el('section', { class: 'card' }, el('h3', { class: 'card-title', text: t('admin.classrooms') }), classTable,
      el('details', {}, el('summary', { text: t('admin.addClassroom') }), classForm)),
    el('section', { class: 'card' }, el('h3', { class: 'card-title', text: t('admin.users') }), userTable,
      el('details', {}, el('summary', { text: t('admin.addUser') }), userForm)),
    resetBox));
});
