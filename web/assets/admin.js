// ADMIN page: live approval board with three sections.

import { mountAlerts } from './alerts.js';
import { announce } from './announce.js';
import { api, listAll } from './api.js';
import { el, insertSorted, syncEmpty, flash } from './dom.js';
import { busy, captureFocus } from './focus.js';
import { NewestViews } from './freshness.js';
import { t } from './i18n.js';
import { toast, errorMessage } from './notify.js';
import { startPage } from './page.js';
import { progressBar, subtaskList, taskCardBase, taskOutcome, loadWorkflows } from './task-card.js';
import { TaskFilter, fillOptions, markFiltered } from './task-filter.js';

const HISTORY_LIMIT = 50;

const sections = {
  pending: { list: document.getElementById('pending-tasks'), count: document.getElementById('pending-count') },
  active: { list: document.getElementById('active-tasks'), count: document.getElementById('active-count') },
  history: { list: document.getElementById('history-tasks'), count: document.getElementById('history-count') },
};

const SECTION_STATUSES = { pending: ['pending_approval'], active: ['approved'], history: ['completed', 'rejected'] };

const tasks = new NewestViews(); // id → Task
let workflows = new Map();
const filter = new TaskFilter(document.getElementById('task-filters'), () => loadSnapshot());
const notify = mountAlerts(document.getElementById('alert-controls'), 'approvals', t('alerts.when_new_task'));

function sectionOf(task) {
  if (task.status === 'pending_approval') return 'pending';
  if (task.status === 'approved') return 'active';
  return 'history';
}

// Pending and active: newest created first. History: most recently finished first.
function sortKey(task) {
  if (sectionOf(task) !== 'history') return task.id;
  return Date.parse(task.completed_at || task.decided_at || task.updated_at) || task.id;
}

// ---------- cards ----------

function buildCard(task) {
  const card = taskCardBase(task, {
    workflowName: workflows.get(task.workflow)?.name,
    extraMeta: [el('span', { class: 'meta-creator' },
      t('task.by', { name: task.created_by_name || t('common.user_number', { id: String(task.created_by) }) }))],
  });

  if (task.status === 'pending_approval') {
    const inputId = `reject-reason-${task.id}`;
    card.append(
      el('div', { class: 'task-actions' },
        el('button', { type: 'button', class: 'btn btn-primary approve-task' }, t('admin.approve')),
        el('button', {
          type: 'button', class: 'btn btn-danger-outline reject-task',
          'aria-expanded': 'false', 'aria-controls': `reject-form-${task.id}`,
        }, t('admin.reject'))),
      el('form', { class: 'reject-form', id: `reject-form-${task.id}`, hidden: true, novalidate: true },
        el('label', { for: inputId }, t('admin.reject_reason')),
        el('input', {
          id: inputId, class: 'reject-reason', type: 'text', maxlength: 500, autocomplete: 'off',
          'aria-describedby': `${inputId}-error`, placeholder: t('admin.reject_reason_ph'),
        }),
        el('p', { class: 'field-error', id: `${inputId}-error`, hidden: true }),
        el('div', { class: 'form-actions' },
          el('button', { type: 'submit', class: 'btn btn-danger confirm-reject' }, t('admin.confirm_reject')),
          el('button', { type: 'button', class: 'btn btn-ghost cancel-reject' }, t('common.cancel')))));
  } else if (task.status === 'approved') {
    card.append(taskOutcome(task), progressBar(task), subtaskList(task));
  } else {
    card.append(taskOutcome(task));
    if (task.status === 'completed' && task.subtasks?.length) card.append(progressBar(task));
  }
  return card;
}

function findCard(id) {
  return document.querySelector(`.task-card[data-task-id="${CSS.escape(String(id))}"]`);
}

function render(task, highlight) {
  const old = findCard(task.id);
  const card = buildCard(task);

  // Keep a half-typed reject reason if the card is re-rendered while still pending.
  const oldForm = old?.querySelector('.reject-form');
  const newForm = card.querySelector('.reject-form');
  if (oldForm && newForm && !oldForm.hidden) {
    openRejectForm(card, false);
    newForm.querySelector('.reject-reason').value = oldForm.querySelector('.reject-reason').value;
  }
  const restoreFocus = captureFocus(old);
  old?.remove();

  const section = sectionOf(task);
  insertSorted(sections[section].list, card, sortKey(task));
  restoreFocus(card);
  if (section === 'history') trimHistory();
  if (highlight) flash(card, highlight);
  updateCounts();
}

function trimHistory() {
  const cards = sections.history.list.querySelectorAll(':scope > .task-card');
  for (let i = HISTORY_LIMIT; i < cards.length; i++) {
    tasks.delete(Number(cards[i].dataset.taskId));
    cards[i].remove();
  }
}

/** The tab title without a count, as the server rendered it ("Approvals · taskwire"). */
const BASE_TITLE = document.title;

function updateCounts() {
  for (const { list, count } of Object.values(sections)) {
    syncEmpty(list);
    count.textContent = list.querySelectorAll(':scope > .task-card').length;
  }
  // A background tab shows what waits for a decision: "(3) Approvals · taskwire".
  const pending = sections.pending.list.querySelectorAll(':scope > .task-card').length;
  const title = pending ? `(${pending}) ${BASE_TITLE}` : BASE_TITLE;
  if (document.title !== title) document.title = title;
}

/** Apply a task from a REST reply or an event (`eventId`). Idempotent; stale copies are ignored. */
function upsert(task, highlight, eventId = null) {
  if (!tasks.offer(task, eventId)) return;
  // A task that no longer passes the filters (or never did) leaves the board; its freshness record stays.
  if (filter.keepsOut(task, findCard(task.id))) updateCounts();
  else render(task, highlight);
}

// ---------- snapshot + live ----------

/** A section's tasks that pass the filters (none when the status filter excludes the section). */
function loadSection(section, limit, pages) {
  const statuses = filter.statuses(SECTION_STATUSES[section]);
  if (!statuses.length) return [];
  return listAll('/api/tasks', { ...filter.params(), status: statuses.join(','), limit }, pages);
}

async function loadSnapshot() {
  const isCurrent = filter.request();
  const [pending, active, history] = await Promise.all([
    loadSection('pending', 100),
    loadSection('active', 100),
    loadSection('history', HISTORY_LIMIT, 1),
  ]);
  if (!isCurrent()) return; // the filters changed meanwhile: the newer reply draws the board
  tasks.clear();
  const lists = Object.values(sections).map(({ list }) => list);
  for (const list of lists) list.replaceChildren();
  markFiltered(lists, filter.active());
  for (const task of [...pending, ...active, ...history]) upsert(task);
  updateCounts();
}

function onEvent(frame) {
  const task = frame.data;
  const known = tasks.get(task?.id);
  if (frame.event === 'task.created' && !known) {
    const from = task.created_by_name || t('common.user_number', { id: String(task.created_by) });
    notify(t('alerts.new_task', { title: task.title }), t('alerts.from', { name: from }), `task-${task.id}`);
    announce('task_created', { title: task.title });
  }
  if (frame.event === 'task.completed' && known?.status !== 'completed') announce('task_completed', { title: task.title });
  upsert(task, frame.event === 'task.created' ? 'is-new' : 'is-updated', frame.id);
}

// ---------- actions ----------

async function refetch(id) {
  try {
    upsert(await api(`/api/tasks/${id}`));
  } catch { /* the live event will correct the card */ }
}

async function runAction(card, path, body) {
  const id = card.dataset.taskId;
  const buttons = [...card.querySelectorAll('button')];
  try {
    const task = await busy(buttons, () => api(path, { method: 'POST', body }));
    upsert(task);
  } catch (err) {
    toast(errorMessage(err));
    if (err.status === 409 || err.status === 404) refetch(id); // someone else decided first
  }
}

function openRejectForm(card, focus = true) {
  const form = card.querySelector('.reject-form');
  if (!form) return;
  form.hidden = false;
  card.querySelector('.reject-task')?.setAttribute('aria-expanded', 'true');
  if (focus) form.querySelector('.reject-reason').focus();
}

function closeRejectForm(card) {
  const form = card.querySelector('.reject-form');
  form.hidden = true;
  showReasonError(form, '');
  const toggle = card.querySelector('.reject-task');
  toggle.setAttribute('aria-expanded', 'false');
  toggle.focus();
}

function showReasonError(form, message) {
  const input = form.querySelector('.reject-reason');
  const error = form.querySelector('.field-error');
  error.textContent = message;
  error.hidden = !message;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

const board = document.getElementById('main');

board.addEventListener('click', (ev) => {
  const button = ev.target.closest('button');
  const card = button?.closest('.task-card');
  if (!card) return;
  const id = card.dataset.taskId;
  if (button.classList.contains('approve-task')) {
    runAction(card, `/api/tasks/${id}/approve`, {});
  } else if (button.classList.contains('reject-task')) {
    const form = card.querySelector('.reject-form');
    if (form.hidden) openRejectForm(card); else closeRejectForm(card);
  } else if (button.classList.contains('cancel-reject')) {
    closeRejectForm(card);
  }
});

board.addEventListener('submit', (ev) => {
  const form = ev.target.closest('.reject-form');
  if (!form) return;
  ev.preventDefault();
  const card = form.closest('.task-card');
  const input = form.querySelector('.reject-reason');
  const reason = input.value.trim();
  if (!reason) {
    showReasonError(form, t('admin.reason_missing'));
    input.focus();
    return;
  }
  showReasonError(form, '');
  runAction(card, `/api/tasks/${card.dataset.taskId}/reject`, { reason });
});

board.addEventListener('keydown', (ev) => {
  const form = ev.key === 'Escape' && ev.target.closest('.reject-form');
  if (form) closeRejectForm(form.closest('.task-card'));
});

board.addEventListener('input', (ev) => {
  if (ev.target.classList.contains('reject-reason') && ev.target.value.trim()) {
    showReasonError(ev.target.form, '');
  }
});

// ---------- start ----------

async function setup() {
  const [loaded, users] = await Promise.all([loadWorkflows(), api('/api/users').catch(() => [])]);
  workflows = loaded;
  fillOptions(document.getElementById('filter-workflow'), [...workflows.values()].map((w) => [w.key, w.name]));
  const people = (Array.isArray(users) ? users : []).filter((u) => u.role === 'ADMIN_LIMITED');
  fillOptions(document.getElementById('filter-assignee'), people.map((u) => [u.id, u.username]));
  filter.refreshSelect('workflow');
  filter.refreshSelect('assignee');
}

startPage({ role: 'ADMIN', setup, channels: ['tasks'], load: loadSnapshot, onEvent });
