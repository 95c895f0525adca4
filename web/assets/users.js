// ADMIN users page: every account with its role, status, creation and last
// login; create one, change a role, disable or enable it, set a new password
// (typed twice, or generated and shown once). Changes by other ADMINs arrive
// live on the `users` channel. The server's rules (nobody disables or demotes
// themselves, one active ADMIN always remains) show as its own messages.

import { api } from './api.js';
import { copyShown } from './clipboard.js';
import { el, flash, setChildren, setText } from './dom.js';
import { busy } from './focus.js';
import { setFieldError, setFormError, showServerError } from './forms.js';
import { timeAgo } from './format.js';
import { t } from './i18n.js';
import { NewestViews } from './freshness.js';
import { toast, errorMessage } from './notify.js';
import { startPage } from './page.js';
import { passwordChoice } from './password-choice.js';
import { throttle } from './timing.js';

const ROLE_LABELS = { ADMIN_LIMITED: t('role.limited'), ADMIN: t('role.admin') };
const COLUMNS = 6;

const $ = (id) => document.getElementById(id);
const form = $('new-user-form');
const usernameInput = $('new-user-username');
const roleInput = $('new-user-role');
const formError = $('new-user-error');
const createButton = $('create-user-button');
const secretArea = $('one-time-secret');
const table = $('users-table');
const body = $('users-body');
const empty = $('users-empty');
const count = $('users-count');

const newPassword = passwordChoice('new-user');
$('new-user-password').replaceWith(newPassword.node);

const users = new NewestViews(); // id → the newest view of each user
let me = null;

// ---------- rows ----------

const rowOf = (id) => body.querySelector(`tr.user-row[data-user-id="${CSS.escape(String(id))}"]`);
const resetRowOf = (id) => body.querySelector(`tr.user-reset-row[data-user-id="${CSS.escape(String(id))}"]`);

function buildRow(user) {
  const id = user.id;
  const row = el('tr', { class: 'user-row', dataset: { userId: id } },
    el('td', { class: 'cell-main' },
      el('span', { class: 'user-username' }),
      el('span', { class: 'badge badge-you', hidden: true }, t('users.you')),
      el('p', { class: 'user-error form-error', role: 'alert', hidden: true })),
    el('td', { 'data-label': t('users.role') },
      el('select', { class: 'user-role-select', id: `user-role-${id}` },
        Object.entries(ROLE_LABELS).map(([value, label]) => el('option', { value }, label)))),
    el('td', { 'data-label': t('users.status'), class: 'user-status' }),
    el('td', { 'data-label': t('users.created_at'), class: 'user-created' }),
    el('td', { 'data-label': t('users.last_login'), class: 'user-last-login' }),
    el('td', { class: 'col-actions' },
      el('div', { class: 'row-actions' },
        el('button', { type: 'button', class: 'btn btn-small btn-ghost toggle-active' }),
        el('button', {
          type: 'button', class: 'btn btn-small btn-ghost reset-password', 'aria-expanded': 'false',
          'aria-controls': `user-reset-${id}`,
        }, t('users.reset_password')))));
  fillRow(row, user);
  return row;
}

/** Update a row in place, so focus and an open select survive live updates. */
function fillRow(row, user) {
  const active = !!user.is_active;
  row.dataset.active = String(active);
  row.dataset.role = user.role;
  setText(row.querySelector('.user-username'), user.username);
  row.querySelector('.badge-you').hidden = user.id !== me?.id;

  const select = row.querySelector('.user-role-select');
  if (!select.disabled) select.value = user.role; // a change in flight keeps what was chosen
  select.setAttribute('aria-label', t('users.role_of', { name: user.username }));

  const status = row.querySelector('.user-status');
  if (status.dataset.active !== String(active)) {
    status.dataset.active = String(active);
    status.replaceChildren(el('span', { class: `badge ${active ? 'badge-completed' : 'badge-inactive'}` },
      t(active ? 'users.active' : 'users.disabled')));
  }
  setTime(row.querySelector('.user-created'), user.created_at);
  setTime(row.querySelector('.user-last-login'), user.last_login_at);

  const toggle = row.querySelector('.toggle-active');
  if (!toggle.disabled) setText(toggle, t(active ? 'users.disable' : 'users.enable'));
  toggle.setAttribute('aria-label', t(active ? 'users.disable_user' : 'users.enable_user', { name: user.username }));
  row.querySelector('.reset-password').setAttribute('aria-label', t('users.reset_password_of', { name: user.username }));
}

/** A relative time in a cell, rebuilt only when the time changed; "never" for none. */
function setTime(cell, iso) {
  if (cell.dataset.at === (iso || '')) return;
  cell.dataset.at = iso || '';
  setChildren(cell, iso ? timeAgo(iso) : el('span', { class: 'muted' }, t('users.never')));
}

function showRowError(id, message) {
  const error = rowOf(id)?.querySelector('.user-error');
  if (error) setFormError(error, message);
}

/** Put a user's row in place (by id), building it when new; `how` flashes it. */
function upsert(user, how) {
  let row = rowOf(user.id);
  if (row) {
    fillRow(row, user);
  } else {
    row = buildRow(user);
    const after = [...body.querySelectorAll(':scope > tr.user-row')].find((r) => Number(r.dataset.userId) > user.id);
    body.insertBefore(row, after || null);
  }
  if (how) flash(row, how);
  syncList();
  return row;
}

function syncList() {
  const n = users.size;
  count.textContent = n;
  table.hidden = n === 0;
  empty.classList.remove('loading');
  empty.hidden = n > 0;
  empty.textContent = t('users.empty');
}

async function loadUsers() {
  const list = await api('/api/users');
  for (const user of list || []) {
    if (users.offer(user)) upsert(user);
  }
  syncList();
}

// A login is not pushed: coming back to the tab shows the latest ones.
const reloadSoon = throttle(() => loadUsers().catch(() => {}), 2000);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && users.size) reloadSoon();
});

function onEvent(frame) {
  if (!users.offer(frame.data, frame.id)) return;
  upsert(frame.data, frame.event === 'user.created' ? 'is-new' : 'is-updated');
}

// ---------- a password shown once ----------

function showSecret(username, password) {
  const value = el('code', { class: 'secret-value', id: 'secret-value' }, password);
  const copy = el('button', { type: 'button', class: 'btn btn-small copy-secret' }, t('users.copy'));
  const done = el('button', { type: 'button', class: 'btn btn-small btn-ghost dismiss-secret' }, t('users.done'));
  copy.addEventListener('click', () => copyShown(value, copy, {
    label: t('users.copy'), copied: t('users.copied'), done: t('users.password_copied'), failed: t('users.copy_failed'),
  }));
  done.addEventListener('click', () => secretArea.replaceChildren());
  secretArea.replaceChildren(el('div', { class: 'secret-box', id: 'secret-box', dataset: { username } },
    el('p', { class: 'secret-label' }, t('users.new_password_for'), ' ', el('strong', {}, username)),
    el('div', { class: 'secret-row' }, value, copy, done),
    el('p', { class: 'secret-note' }, t('users.secret_note'))));
  copy.focus();
}

// ---------- create ----------

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  setFormError(formError, '');
  setFieldError(usernameInput, '');
  const username = usernameInput.value.trim();
  if (!username) {
    setFieldError(usernameInput, t('users.enter_username'));
    usernameInput.focus();
    return;
  }
  const chosen = newPassword.read();
  if (!chosen) return;
  try {
    const user = await busy(createButton, () => api('/api/users', {
      method: 'POST', body: { username, password: chosen.password, role: roleInput.value },
    }));
    if (users.offer(user)) upsert(user, 'is-new');
    form.reset();
    newPassword.reset();
    if (chosen.generated) showSecret(user.username, chosen.password);
    else toast(t('users.created', { name: user.username }), 'success');
  } catch (err) {
    const fields = [400, 409].includes(err.status) ? { username: usernameInput, password: newPassword.input } : {};
    showServerError(err, fields, formError);
  }
});
usernameInput.addEventListener('input', () => setFieldError(usernameInput, ''));

// ---------- row actions ----------

/** PATCH a user; the answer updates the row, a refusal shows the server's message in it. */
async function patchUser(id, changes, controls) {
  showRowError(id, '');
  try {
    const user = await busy(controls, () => api(`/api/users/${id}`, { method: 'PATCH', body: changes }));
    if (users.offer(user)) upsert(user, 'is-updated');
    return user;
  } catch (err) {
    showRowError(id, errorMessage(err));
    const current = users.get(id);
    const row = rowOf(id);
    if (current && row) fillRow(row, current); // back to what the server holds
    return null;
  }
}

function toggleReset(id, open) {
  const row = rowOf(id);
  const user = users.get(id);
  const button = row?.querySelector('.reset-password');
  resetRowOf(id)?.remove();
  button?.setAttribute('aria-expanded', String(open));
  if (!open || !row || !user) return;
  const choice = passwordChoice(`reset-${id}`);
  const error = el('p', { class: 'form-error', role: 'alert', hidden: true });
  const save = el('button', { type: 'submit', class: 'btn btn-small btn-primary save-password' }, t('users.set_password'));
  const cancel = el('button', { type: 'button', class: 'btn btn-small btn-ghost cancel-reset' }, t('common.cancel'));
  const self = user.id === me?.id;
  const resetForm = el('form', { class: 'reset-form stack', novalidate: true, 'aria-label': t('users.new_password_label', { name: user.username }) },
    choice.node,
    el('p', { class: 'muted reset-note' }, self
      ? t('users.reset_self_note')
      : t('users.reset_other_note', { name: user.username })),
    error,
    el('div', { class: 'form-actions' }, save, cancel));
  cancel.addEventListener('click', () => {
    toggleReset(id, false);
    button?.focus();
  });
  resetForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    setFormError(error, '');
    const chosen = choice.read();
    if (!chosen) return;
    try {
      const saved = await busy([save, cancel], () =>
        api(`/api/users/${id}`, { method: 'PATCH', body: { password: chosen.password } }));
      if (users.offer(saved)) upsert(saved, 'is-updated');
      toggleReset(id, false);
      if (chosen.generated) showSecret(saved.username, chosen.password);
      else toast(t('users.password_changed', { name: saved.username }), 'success');
    } catch (err) {
      setFormError(error, errorMessage(err));
    }
  });
  row.after(el('tr', { class: 'user-reset-row', dataset: { userId: id }, id: `user-reset-${id}` },
    el('td', { colspan: COLUMNS }, resetForm)));
  resetForm.querySelector('input[type="radio"]:checked')?.focus();
}

body.addEventListener('click', (event) => {
  const button = event.target.closest('button');
  const row = button?.closest('tr.user-row');
  if (!row) return;
  const id = Number(row.dataset.userId);
  const user = users.get(id);
  if (!user) return;
  if (button.classList.contains('toggle-active')) {
    patchUser(id, { is_active: !user.is_active }, [button]);
  } else if (button.classList.contains('reset-password')) {
    toggleReset(id, button.getAttribute('aria-expanded') !== 'true');
  }
});

body.addEventListener('change', (event) => {
  const select = event.target.closest('.user-role-select');
  const row = select?.closest('tr.user-row');
  if (!row) return;
  patchUser(Number(row.dataset.userId), { role: select.value }, [select]);
});

// ---------- start ----------

startPage({
  role: 'ADMIN',
  setup: (user) => { me = user; },
  channels: ['users'],
  load: loadUsers,
  onEvent,
});
