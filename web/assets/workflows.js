// ADMIN templates page: every workflow template with its subtasks; create one,
// rename it, add, remove and reorder its subtasks, and switch it off so it is
// no longer offered for new tasks (tasks created from it keep it). Changes by
// other ADMINs arrive live on the `workflows` channel.

import { api } from './api.js';
import { el, flash, setChildren, setText, syncEmpty } from './dom.js';
import { busy } from './focus.js';
import { setFieldError, setFormError, showServerError } from './forms.js';
import { timeAgo } from './format.js';
import { t } from './i18n.js';
import { NewestViews } from './freshness.js';
import { toast, errorMessage } from './notify.js';
import { startPage } from './page.js';

const MAX_SUBTASKS = 50;

const $ = (id) => document.getElementById(id);
const form = $('new-workflow-form');
const nameInput = $('new-workflow-name');
const keyInput = $('new-workflow-key');
const formError = $('new-workflow-error');
const createButton = $('create-workflow-button');
const list = $('workflows-list');
const count = $('workflows-count');

const templates = new NewestViews(); // key → the newest view of each template

// ---------- the subtask list editor (new template and edit) ----------

/** Which subtask a server message such as "subtasks[2]: must be …" is about: its index, -1 for the list, null for none. */
function subtaskIndex(message) {
  const m = /^subtasks(?:\[(\d+)\])?:/.exec(String(message || ''));
  if (!m) return null;
  return m[1] == null ? -1 : Number(m[1]);
}

/**
 * An ordered list of subtask title inputs, each movable up and down and
 * removable, and an "Add subtask" button. `prefix` keeps ids unique.
 * Returns { node, read, showError, reset }: read() gives the titles, or null
 * after marking an empty one.
 */
function subtaskEditor(prefix, titles) {
  const items = el('ol', { class: 'subtask-editor-list' });
  const listError = el('p', { id: `${prefix}-subtasks-error`, class: 'field-error', hidden: true });
  const add = el('button', { type: 'button', class: 'btn btn-small btn-ghost add-subtask' }, t('workflows.add_subtask'));
  const node = el('fieldset', { class: 'subtask-editor' }, el('legend', {}, t('workflows.subtasks_legend')), items, listError, add);
  let made = 0;
  const rows = () => [...items.children];
  const inputOf = (row) => row.querySelector('.subtask-input');

  function row(title) {
    const id = `${prefix}-subtask-${++made}`;
    const input = el('input', {
      id, type: 'text', class: 'subtask-input', maxlength: 200, autocomplete: 'off', 'aria-describedby': `${id}-error`,
    });
    input.value = title;
    input.addEventListener('input', () => setFieldError(input, ''));
    return el('li', { class: 'subtask-edit-row' },
      el('label', { for: id, class: 'sr-only subtask-label' }),
      el('div', { class: 'subtask-edit-line' },
        input,
        el('button', { type: 'button', class: 'btn btn-small btn-ghost move-up' }, '↑'),
        el('button', { type: 'button', class: 'btn btn-small btn-ghost move-down' }, '↓'),
        el('button', { type: 'button', class: 'btn btn-small btn-danger-outline remove-subtask' }, '×')),
      el('p', { id: `${id}-error`, class: 'field-error', hidden: true }));
  }

  function renumber() {
    const all = rows();
    all.forEach((li, i) => {
      const n = i + 1;
      li.querySelector('.subtask-label').textContent = t('workflows.subtask_n', { n });
      inputOf(li).placeholder = t('workflows.subtask_n', { n });
      const up = li.querySelector('.move-up');
      const down = li.querySelector('.move-down');
      up.disabled = i === 0;
      down.disabled = i === all.length - 1;
      up.setAttribute('aria-label', t('workflows.move_up', { n }));
      down.setAttribute('aria-label', t('workflows.move_down', { n }));
      li.querySelector('.remove-subtask').setAttribute('aria-label', t('workflows.remove_subtask', { n }));
    });
    add.disabled = all.length >= MAX_SUBTASKS;
    add.title = add.disabled ? t('workflows.max_subtasks', { count: MAX_SUBTASKS }) : '';
  }

  function fill(titlesToShow) {
    items.replaceChildren(...(titlesToShow.length ? titlesToShow : ['']).map(row));
    setFormError(listError, '');
    renumber();
  }

  items.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    const li = button?.closest('li');
    if (!li) return;
    if (button.classList.contains('move-up') && li.previousElementSibling) {
      li.previousElementSibling.before(li);
    } else if (button.classList.contains('move-down') && li.nextElementSibling) {
      li.nextElementSibling.after(li);
    } else if (button.classList.contains('remove-subtask')) {
      const next = li.nextElementSibling || li.previousElementSibling;
      if (!next) {
        inputOf(li).value = '';
        inputOf(li).focus();
        return;
      }
      li.remove();
      renumber();
      inputOf(next).focus();
      return;
    } else {
      return;
    }
    renumber();
    // Moving a row drops focus; keep it on the same arrow, or the other one at either end.
    (button.disabled ? li.querySelector(button.classList.contains('move-up') ? '.move-down' : '.move-up') : button)
      .focus();
  });
  add.addEventListener('click', () => {
    if (rows().length >= MAX_SUBTASKS) return;
    const li = row('');
    items.append(li);
    renumber();
    inputOf(li).focus();
  });
  fill(titles);

  return {
    node,
    read() {
      setFormError(listError, '');
      const all = rows();
      for (const li of all) setFieldError(inputOf(li), '');
      const empty = all.find((li) => !inputOf(li).value.trim());
      if (empty) {
        setFieldError(inputOf(empty), t('workflows.enter_title'));
        inputOf(empty).focus();
        return null;
      }
      return all.map((li) => inputOf(li).value.trim());
    },
    /** Show a server message about `subtasks` under the list or the input it names; false when it is about neither. */
    showError(message) {
      const index = subtaskIndex(message);
      if (index == null) return false;
      const li = rows()[index];
      if (li) setFieldError(inputOf(li), message);
      else setFormError(listError, message);
      return true;
    },
    reset: () => fill([]),
  };
}

// ---------- template cards ----------

const cardOf = (key) => list.querySelector(`.workflow-card[data-key="${CSS.escape(key)}"]`);

function buildCard(w) {
  const card = el('article', { class: 'workflow-card', dataset: { key: w.key }, 'aria-labelledby': `workflow-name-${w.key}` },
    el('div', { class: 'workflow-head' },
      el('h3', { class: 'workflow-name', id: `workflow-name-${w.key}` }),
      el('span', { class: 'badge badge-inactive workflow-inactive' }, t('workflows.inactive'))),
    el('p', { class: 'workflow-meta' },
      el('code', { class: 'workflow-key' }, w.key),
      el('span', { class: 'workflow-steps' }),
      el('span', { class: 'workflow-updated' })),
    el('ol', { class: 'workflow-subtasks' }),
    el('div', { class: 'workflow-editor-slot' }),
    el('p', { class: 'workflow-error form-error', role: 'alert', hidden: true }),
    el('div', { class: 'workflow-actions' },
      el('button', { type: 'button', class: 'switch toggle-active', role: 'switch' },
        el('span', { class: 'switch-track', 'aria-hidden': 'true' }),
        el('span', { class: 'switch-label' }, t('workflows.offered'))),
      el('button', { type: 'button', class: 'btn btn-small btn-ghost edit-workflow' }, t('workflows.edit'))));
  fillCard(card, w);
  return card;
}

/** Update a card in place; an open editor is left alone, with a note when the template changed meanwhile. */
function fillCard(card, w) {
  card.dataset.active = String(!!w.active);
  setText(card.querySelector('.workflow-name'), w.name);
  card.querySelector('.workflow-inactive').hidden = !!w.active;
  const n = w.subtasks.length;
  setText(card.querySelector('.workflow-steps'), t('workflows.subtask_count', { count: n }));
  const updated = card.querySelector('.workflow-updated');
  if (updated.dataset.at !== w.updated_at) {
    updated.dataset.at = w.updated_at;
    setChildren(updated, t('workflows.changed'), ' ', timeAgo(w.updated_at));
  }
  const steps = card.querySelector('.workflow-subtasks');
  const titles = JSON.stringify(w.subtasks);
  if (steps.dataset.titles !== titles) {
    steps.dataset.titles = titles;
    steps.replaceChildren(...w.subtasks.map((title) => el('li', { class: 'workflow-subtask' }, title)));
  }
  const toggle = card.querySelector('.toggle-active');
  toggle.setAttribute('aria-checked', String(!!w.active));
  toggle.setAttribute('aria-label', t('workflows.offered_label', { name: w.name }));
  card.querySelector('.edit-workflow').setAttribute('aria-label', t('workflows.edit_name', { name: w.name }));
  const editor = card.querySelector('.workflow-edit-form');
  if (editor && editor.dataset.base !== w.updated_at) {
    card.querySelector('.edit-note').hidden = false;
  }
}

/** Sync the list with `templates`, by key: update cards in place, add new ones, move only those out of place. */
function renderList() {
  const sorted = [...templates.values()].sort((a, b) => a.key.localeCompare(b.key));
  let prev = null;
  for (const w of sorted) {
    let card = cardOf(w.key);
    if (card) fillCard(card, w);
    else card = buildCard(w);
    const expected = prev ? prev.nextElementSibling : list.firstElementChild;
    if (card !== expected) {
      if (prev) prev.after(card);
      else list.prepend(card);
    }
    prev = card;
  }
  list.querySelector(':scope > .empty.loading')?.remove();
  syncEmpty(list, '.workflow-card');
  count.textContent = templates.size;
}

function accept(w, eventId = null, how = null) {
  if (!templates.offer(w, eventId, w.key)) return;
  renderList();
  if (how) flash(cardOf(w.key), how);
}

function onEvent(frame) {
  accept(frame.data, frame.id, frame.event === 'workflow.created' ? 'is-new' : 'is-updated');
}

async function loadTemplates() {
  const all = await api('/api/workflows');
  for (const w of all || []) templates.offer(w, null, w.key);
  renderList();
}

// ---------- editing one template ----------

function openEditor(card) {
  const w = templates.get(card.dataset.key);
  if (!w || card.querySelector('.workflow-edit-form')) return;
  const prefix = `edit-${w.key}`;
  const name = el('input', { id: `${prefix}-name`, type: 'text', maxlength: 200, autocomplete: 'off', 'aria-describedby': `${prefix}-name-error` });
  name.value = w.name;
  name.addEventListener('input', () => setFieldError(name, ''));
  const steps = subtaskEditor(prefix, w.subtasks);
  const error = el('p', { class: 'form-error', role: 'alert', hidden: true });
  const save = el('button', { type: 'submit', class: 'btn btn-small btn-primary save-workflow' }, t('workflows.save'));
  const cancel = el('button', { type: 'button', class: 'btn btn-small btn-ghost cancel-edit' }, t('common.cancel'));
  const editor = el('form', { class: 'workflow-edit-form stack', novalidate: true, dataset: { base: w.updated_at } },
    el('div', { class: 'field' },
      el('label', { for: name.id }, t('workflows.name')), name,
      el('p', { id: `${prefix}-name-error`, class: 'field-error', hidden: true })),
    steps.node,
    el('p', { class: 'edit-note', role: 'status', hidden: true },
      t('workflows.edit_note')),
    error,
    el('div', { class: 'form-actions' }, save, cancel));
  const close = () => {
    editor.remove();
    card.classList.remove('is-editing');
    const latest = templates.get(w.key);
    if (latest) fillCard(card, latest);
    card.querySelector('.edit-workflow').focus();
  };
  cancel.addEventListener('click', close);
  editor.addEventListener('submit', async (event) => {
    event.preventDefault();
    setFormError(error, '');
    const subtasks = steps.read();
    if (!subtasks) return;
    try {
      const saved = await busy([save, cancel], () =>
        api(`/api/workflows/${encodeURIComponent(w.key)}`, { method: 'PATCH', body: { name: name.value.trim(), subtasks } }));
      close();
      accept(saved, null, 'is-updated');
      toast(t('workflows.saved', { name: saved.name }), 'success');
    } catch (err) {
      if (err.status !== 400 || !steps.showError(err.message)) {
        showServerError(err, err.status === 400 ? { name } : {}, error);
      }
    }
  });
  card.classList.add('is-editing');
  card.querySelector('.workflow-editor-slot').append(editor);
  name.focus();
}

async function toggleActive(card, button) {
  const w = templates.get(card.dataset.key);
  if (!w) return;
  const error = card.querySelector('.workflow-error');
  setFormError(error, '');
  try {
    const saved = await busy(button, () =>
      api(`/api/workflows/${encodeURIComponent(w.key)}`, { method: 'PATCH', body: { active: !w.active } }));
    accept(saved, null, 'is-updated');
  } catch (err) {
    setFormError(error, errorMessage(err));
  }
}

list.addEventListener('click', (event) => {
  const button = event.target.closest('button');
  const card = button?.closest('.workflow-card');
  if (!card || button.closest('.workflow-edit-form')) return;
  if (button.classList.contains('edit-workflow')) openEditor(card);
  else if (button.classList.contains('toggle-active')) toggleActive(card, button);
});

// ---------- creating one ----------

const newSteps = subtaskEditor('new-workflow', []);
$('new-workflow-subtasks').replaceWith(newSteps.node);

/** A key from a name, while the key field was not edited by hand: "Customer onboarding" → "customer_onboarding". */
const keyFrom = (name) => name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
nameInput.addEventListener('input', () => {
  setFieldError(nameInput, '');
  if (!keyInput.dataset.edited) keyInput.value = keyFrom(nameInput.value);
});
keyInput.addEventListener('input', () => {
  setFieldError(keyInput, '');
  keyInput.dataset.edited = keyInput.value ? 'true' : '';
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  setFormError(formError, '');
  const name = nameInput.value.trim();
  const key = keyInput.value.trim();
  if (!name) {
    setFieldError(nameInput, t('workflows.enter_name'));
    nameInput.focus();
    return;
  }
  if (!key) {
    setFieldError(keyInput, t('workflows.enter_key'));
    keyInput.focus();
    return;
  }
  const subtasks = newSteps.read();
  if (!subtasks) return;
  try {
    const created = await busy(createButton, () => api('/api/workflows', { method: 'POST', body: { key, name, subtasks } }));
    accept(created, null, 'is-new');
    form.reset();
    delete keyInput.dataset.edited;
    newSteps.reset();
    toast(t('workflows.created', { name: created.name }), 'success');
  } catch (err) {
    const handled = err.status === 400 && newSteps.showError(err.message);
    if (!handled) {
      showServerError(err, [400, 409].includes(err.status) ? { key: keyInput, name: nameInput } : {}, formError);
    }
  }
});

startPage({ role: 'ADMIN', channels: ['workflows'], load: loadTemplates, onEvent });
