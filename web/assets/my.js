// ADMIN_LIMITED page: create tasks and work through their subtasks, live.

import { mountAlerts } from './alerts.js';
import { announce } from './announce.js';
import { api, listAll } from './api.js';
import { el, insertSorted, syncEmpty, flash } from './dom.js';
import { busy, captureFocus } from './focus.js';
import { setFieldError, setFormError } from './forms.js';
import { NewestViews } from './freshness.js';
import { t } from './i18n.js';
import { toast, errorMessage } from './notify.js';
import { startPage } from './page.js';
import { progressBar, subtaskList, taskCardBase, taskOutcome, loadWorkflows } from './task-card.js';
import { TaskFilter, markFiltered } from './task-filter.js';

const list = document.getElementById('my-tasks');
const count = document.getElementById('my-count');
const form = document.getElementById('create-task-form');
const titleInput = document.getElementById('task-title');
const descInput = document.getElementById('task-description');
const workflowSelect = document.getElementById('task-workflow');
const submitButton = document.getElementById('create-task-button');
const formError = document.getElementById('create-task-error');

const tasks = new NewestViews(); // id → Task
let workflows = new Map();
let me = null;
const filter = new TaskFilter(document.getElementById('task-filters'), () => loadSnapshot());
const notify = mountAlerts(document.getElementById('alert-controls'), 'my-tasks', t('alerts.when_decided'));

// ---------- cards ----------

// The assignee (the creator unless someone else was set) completes subtasks.
const mayComplete = (task) => task.assignee == null || task.assignee === me.id;

function buildCard(task) {
  const card = taskCardBase(task, { workflowName: workflows.get(task.workflow)?.name });
  switch (task.status) {
    case 'pending_approval':
      card.append(el('p', { class: 'task-note' }, t('my.waiting')));
      break;
    case 'approved':
      card.append(taskOutcome(task), progressBar(task),
        subtaskList(task, { me, canComplete: () => mayComplete(task) }));
      break;
    case 'completed':
      card.append(taskOutcome(task), progressBar(task), subtaskList(task, { me }));
      break;
    case 'rejected':
      card.append(taskOutcome(task));
      break;
    default:
  }
  return card;
}

/** The empty note and the count follow the cards the list shows. */
function updateCount() {
  syncEmpty(list);
  count.textContent = list.querySelectorAll(':scope > .task-card').length;
}

const findCard = (id) => list.querySelector(`.task-card[data-task-id="${CSS.escape(String(id))}"]`);

function render(task, highlight) {
  const old = findCard(task.id);
  const card = buildCard(task);
  const restoreFocus = captureFocus(old);
  if (old) old.replaceWith(card);
  insertSorted(list, card, task.id); // newest first
  restoreFocus(card);
  if (highlight) flash(card, highlight);
  updateCount();
}

/** Apply a task from a REST reply or an event (`eventId`). Idempotent; stale copies are ignored. */
function upsert(task, highlight, eventId = null) {
  if (!tasks.offer(task, eventId)) return;
  // A task that no longer passes the filters (or never did) leaves the list; its freshness record stays.
  if (filter.keepsOut(task, findCard(task.id))) updateCount();
  else render(task, highlight);
}

async function loadSnapshot() {
  const isCurrent = filter.request();
  const query = { ...filter.params(), limit: 100 };
  if (filter.values.status) query.status = filter.values.status;
  const items = await listAll('/api/tasks', query, 3);
  if (!isCurrent()) return; // the filters changed meanwhile: the newer reply draws the list
  tasks.clear();
  list.replaceChildren();
  markFiltered([list], filter.active());
  for (const task of items) upsert(task);
  updateCount();
}

// Decisions about the user's own tasks: a desktop notification (if opted in) and a polite announcement.
const DECISIONS = { 'task.approved': 'task.approved', 'task.rejected': 'task.rejected' };
const ANNOUNCED = { 'task.approved': 'task_approved', 'task.rejected': 'task_rejected', 'task.completed': 'task_completed' };

function onEvent(frame) {
  const task = frame.data;
  const before = tasks.get(task?.id)?.status;
  const decision = DECISIONS[frame.event];
  if (decision && task.created_by === me.id) {
    const body = task.reject_reason ? `${t('task.reason')} ${task.reject_reason}` : t('alerts.open');
    notify(`${t(decision)}: ${task.title}`, body, `task-${task.id}`);
  }
  const kind = ANNOUNCED[frame.event];
  if (kind && before !== task.status) announce(kind, { title: task.title });
  upsert(task, frame.event === 'task.created' ? 'is-new' : 'is-updated', frame.id);
}

// ---------- completing subtasks ----------

list.addEventListener('click', async (ev) => {
  const button = ev.target.closest('.complete-subtask');
  if (!button) return;
  const taskId = button.closest('.task-card').dataset.taskId;
  const subId = button.closest('.subtask').dataset.subtaskId;
  try {
    const task = await busy(button, () =>
      api(`/api/tasks/${taskId}/subtasks/${subId}/complete`, { method: 'POST', body: {} }));
    upsert(task);
  } catch (err) {
    toast(errorMessage(err));
    if (err.status === 409) {
      api(`/api/tasks/${taskId}`).then((t) => upsert(t)).catch(() => {});
    }
  }
});

// ---------- create form ----------

function validate() {
  let ok = true;
  setFieldError(titleInput, '');
  setFieldError(workflowSelect, '');
  if (!titleInput.value.trim()) {
    setFieldError(titleInput, t('my.title_missing'));
    ok = false;
  }
  if (!workflowSelect.value) {
    setFieldError(workflowSelect, t('my.workflow_missing'));
    ok = false;
  }
  if (!ok) form.querySelector('[aria-invalid="true"]').focus();
  return ok;
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  setFormError(formError, '');
  if (!validate()) return;
  const body = {
    title: titleInput.value.trim(),
    description: descInput.value.trim(),
    workflow: workflowSelect.value,
  };
  try {
    const task = await busy(submitButton, () => api('/api/tasks', { method: 'POST', body }));
    upsert(task, 'is-new');
    const keepWorkflow = workflowSelect.value;
    form.reset();
    workflowSelect.value = keepWorkflow;
    titleInput.focus();
    toast(t('my.created'), 'success');
  } catch (err) {
    // Validation problems belong next to the form; anything else is a toast.
    if (err.status === 400) setFormError(formError, errorMessage(err));
    else toast(errorMessage(err));
  }
});

for (const input of [titleInput, workflowSelect]) {
  input.addEventListener('input', () => { if (input.value.trim()) setFieldError(input, ''); });
}

function fillWorkflows() {
  const options = [...workflows.values()].map((w) => {
    const steps = w.subtasks?.length || 0;
    return el('option', { value: w.key }, t('my.workflow_option', { name: w.name, count: steps }));
  });
  if (!options.length) {
    workflowSelect.replaceChildren(el('option', { value: '' }, t('my.no_workflows')));
    workflowSelect.disabled = true;
    submitButton.disabled = true;
    return;
  }
  workflowSelect.replaceChildren(...options);
  workflowSelect.disabled = false;
  submitButton.disabled = false;
}

// ---------- start ----------

async function setup(user) {
  me = user;
  workflows = await loadWorkflows();
  fillWorkflows();
}

startPage({ role: 'ADMIN_LIMITED', setup, channels: ['tasks'], load: loadSnapshot, onEvent });
