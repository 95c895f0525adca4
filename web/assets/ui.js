// Shared page helpers: safe DOM building, badges, times, toasts, header,
// and the task-card pieces both pages use. Data only ever goes in via
// textContent / attributes, never innerHTML.

import { api, goToLogin } from './api.js';

/** el('div', {class: 'x', dataset: {id: 1}, onclick: fn}, child, 'text', ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// ---------- status and time ----------

const STATUS_LABELS = {
  pending_approval: 'Pending approval',
  approved: 'In progress',
  completed: 'Completed',
  rejected: 'Rejected',
};

export function statusBadge(status) {
  return el('span', { class: `badge badge-${status}` }, STATUS_LABELS[status] || status);
}

export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h}h ago`;
  const d = Math.round(h / 24);
  if (d < 7) return `${d}d ago`;
  return new Date(t).toLocaleDateString();
}

/** <time> that keeps itself fresh (see the interval below). */
export function timeAgo(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return el('time', { class: 'rel-time', datetime: iso, title: d.toLocaleString() }, relativeTime(iso));
}

setInterval(() => {
  const now = Date.now();
  for (const t of document.querySelectorAll('time.rel-time')) {
    t.textContent = relativeTime(t.getAttribute('datetime'), now);
  }
}, 30000);

// ---------- toasts ----------

function toastRegion() {
  let region = document.getElementById('toasts');
  if (!region) {
    region = el('div', { id: 'toasts', class: 'toasts', 'aria-live': 'polite' });
    document.body.append(region);
  }
  return region;
}

/** toast('Could not approve: …', 'error' | 'info' | 'success') */
export function toast(message, kind = 'error') {
  const close = el('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, '×');
  const node = el('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('span', { class: 'toast-msg' }, message), close);
  const remove = () => node.remove();
  close.addEventListener('click', remove);
  toastRegion().append(node);
  setTimeout(remove, kind === 'error' ? 8000 : 4000);
}

export function errorMessage(err) {
  return (err && err.message) || 'Something went wrong.';
}

// ---------- session and header ----------

export const homeFor = (role) => (role === 'ADMIN' ? '/admin' : '/my');

/** GET /api/me; redirects to the login page or to the page for the user's role. */
export async function requireUser(role) {
  let user;
  try {
    user = await api('/api/me');
  } catch (err) {
    if (err.status === 401) goToLogin();
    throw err;
  }
  if (user.role !== role) {
    location.replace(homeFor(user.role));
    throw new Error('redirecting');
  }
  return user;
}

/** Fill the static header with the user's name and role. */
export function setupHeader(user) {
  const name = document.getElementById('user-name');
  const role = document.getElementById('user-role');
  if (name) name.textContent = user.username;
  if (role) role.textContent = user.role === 'ADMIN' ? 'Admin' : 'Limited admin';
}

// The logout button works from the first moment, even before /api/me answers.
const logoutButton = document.getElementById('logout-button');
logoutButton?.addEventListener('click', async () => {
  logoutButton.disabled = true;
  try {
    await api('/api/auth/logout', { method: 'POST', body: {} });
  } catch { /* going to the login page either way */ }
  location.replace('/');
});

// Controls inside a task card that get focus back after the card re-renders.
const FOCUS_CLASSES = ['complete-subtask', 'approve-task', 'reject-task', 'reject-reason', 'confirm-reject', 'cancel-reject'];

/** Disable a button (or an array of buttons) while `work()` runs. */
export async function busy(buttons, work) {
  const list = (Array.isArray(buttons) ? buttons : [buttons]).filter(Boolean);
  // Disabling the focused button drops focus to <body>; remember where it was.
  const focused = list.find((b) => b === document.activeElement);
  const card = focused?.closest('.task-card');
  if (card) card.dataset.refocus = FOCUS_CLASSES.find((c) => focused.classList.contains(c)) || '';
  for (const b of list) { b.disabled = true; b.setAttribute('aria-busy', 'true'); }
  try {
    return await work();
  } finally {
    // The card may have been re-rendered meanwhile; resetting detached buttons is harmless.
    for (const b of list) { b.disabled = false; b.removeAttribute('aria-busy'); }
    if (card?.isConnected) delete card.dataset.refocus;
    if (focused?.isConnected && focusLost()) focused.focus();
  }
}

const focusLost = () => !document.activeElement || document.activeElement === document.body;

// ---------- tasks ----------

/**
 * Should `incoming` replace `current`? Not when it is older (a replayed event
 * can be) and not when it is the same (REST reply and its event both arrive).
 */
export function shouldApply(incoming, current) {
  if (!current) return true;
  if (JSON.stringify(incoming) === JSON.stringify(current)) return false;
  if (!incoming.updated_at || !current.updated_at) return true;
  return Date.parse(incoming.updated_at) >= Date.parse(current.updated_at);
}

/**
 * Before a card is re-rendered: remember whether focus was inside it.
 * Returns restore(newCard), which puts focus back on the matching control,
 * or on the card itself, so keyboard users don't lose their place.
 */
export function captureFocus(oldCard) {
  if (!oldCard) return () => {};
  const active = document.activeElement;
  let cls;
  if (active && oldCard.contains(active)) cls = FOCUS_CLASSES.find((c) => active.classList.contains(c));
  else if ('refocus' in oldCard.dataset && focusLost()) cls = oldCard.dataset.refocus; // see busy()
  else return () => {};
  return (newCard) => {
    let target = cls && newCard.querySelector(`.${cls}:not(:disabled)`);
    if (!target) {
      newCard.tabIndex = -1;
      target = newCard;
    }
    target.focus({ preventScroll: true });
  };
}

export function sortedSubtasks(task) {
  return [...(task.subtasks || [])].sort((a, b) => a.position - b.position);
}

export function progressBar(task) {
  const subs = task.subtasks || [];
  const total = subs.length;
  const done = subs.filter((s) => s.status === 'done').length;
  const pct = total ? Math.round((done / total) * 100) : 0;
  const fill = el('div', { class: 'progress-fill' });
  fill.style.width = `${pct}%`;
  return el('div', { class: 'progress-row' },
    el('div', {
      class: 'progress', role: 'progressbar',
      'aria-label': 'Subtasks done', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done,
      dataset: { done, total },
    }, fill),
    el('span', { class: 'progress-text' }, `${done} / ${total} subtasks`));
}

/** Who completed a subtask, from the names the task carries. */
function completerName(task, sub, me) {
  if (sub.completed_by_name) return sub.completed_by_name;
  const id = sub.completed_by;
  if (id == null) return null;
  if (me && id === me.id) return 'you';
  if (id === task.assignee && task.assignee_name) return task.assignee_name;
  if (id === task.created_by && task.created_by_name) return task.created_by_name;
  if (id === task.decided_by && task.decided_by_name) return task.decided_by_name;
  return `user #${id}`;
}

/** <ul> of subtasks; canComplete(sub) decides whether an open one gets a button. */
export function subtaskList(task, { me, canComplete = () => false } = {}) {
  return el('ul', { class: 'subtasks', 'aria-label': 'Subtasks' },
    sortedSubtasks(task).map((sub) => {
      const done = sub.status === 'done';
      const who = done ? completerName(task, sub, me) : null;
      return el('li', { class: 'subtask', dataset: { subtaskId: sub.id, status: sub.status } },
        el('span', { class: 'subtask-mark', 'aria-hidden': 'true' }, done ? '✓' : ''),
        el('span', { class: 'subtask-body' },
          el('span', { class: 'subtask-title' }, sub.title),
          done && el('span', { class: 'subtask-meta' },
            el('span', { class: 'sr-only' }, 'Done, '),
            who ? `by ${who} · ` : '', timeAgo(sub.completed_at))),
        !done && canComplete(sub) && el('button', {
          type: 'button', class: 'btn btn-small complete-subtask',
          'aria-label': `Complete “${sub.title}”`,
        }, 'Complete'));
    }));
}

/** The parts every task card shares: title, badge, description, meta line. */
export function taskCardBase(task, { workflowName, extraMeta = [] } = {}) {
  return el('article', {
    class: 'task-card', dataset: { taskId: task.id, status: task.status },
    'aria-labelledby': `task-title-${task.id}`,
  },
  el('header', { class: 'task-head' },
    el('h3', { class: 'task-title', id: `task-title-${task.id}` }, task.title),
    statusBadge(task.status)),
  task.description ? el('p', { class: 'task-desc' }, task.description) : null,
  el('p', { class: 'task-meta' },
    el('span', { class: 'meta-workflow' }, workflowName || task.workflow),
    ...extraMeta,
    el('span', { class: 'meta-age' }, 'created ', timeAgo(task.created_at))));
}

/** Decision / completion line for approved, completed and rejected tasks. */
export function taskOutcome(task) {
  const by = task.decided_by_name ? ` by ${task.decided_by_name}` : '';
  switch (task.status) {
    case 'approved':
      return el('p', { class: 'task-outcome outcome-approved' }, `Approved${by} `, timeAgo(task.decided_at));
    case 'completed':
      return el('p', { class: 'task-outcome outcome-completed' },
        el('span', { class: 'outcome-icon', 'aria-hidden': 'true' }, '✓'),
        'Completed ', timeAgo(task.completed_at || task.updated_at));
    case 'rejected':
      return el('div', { class: 'task-outcome outcome-rejected' },
        el('p', { class: 'outcome-head' },
          el('span', { class: 'outcome-icon', 'aria-hidden': 'true' }, '✕'),
          `Rejected${by} `, timeAgo(task.decided_at)),
        task.reject_reason
          ? el('p', { class: 'reject-reason-text' }, el('span', { class: 'label' }, 'Reason: '), task.reject_reason)
          : null);
    default:
      return null;
  }
}

/** Insert `card` into `list` keeping descending order of data-sort. */
export function insertSorted(list, card, sortKey) {
  card.dataset.sort = sortKey;
  for (const other of list.querySelectorAll(':scope > .task-card')) {
    if (other !== card && Number(other.dataset.sort) < sortKey) {
      list.insertBefore(card, other);
      return;
    }
  }
  list.append(card);
}

/** Show the list's data-empty message when it has no cards. */
export function syncEmpty(list) {
  const hasCards = !!list.querySelector(':scope > .task-card');
  let empty = list.querySelector(':scope > .empty');
  if (hasCards && empty) empty.remove();
  if (!hasCards) {
    if (!empty) {
      empty = el('p', { class: 'empty' });
      list.append(empty);
    }
    empty.classList.remove('loading');
    empty.textContent = list.dataset.empty || 'Nothing here yet';
  }
}

/** Briefly highlight a card (CSS animation). */
export function flash(card, cls = 'is-new') {
  card.classList.add(cls);
  setTimeout(() => card.classList.remove(cls), 2600);
}

/** Map workflow key → {name, subtasks} */
export async function loadWorkflows() {
  const list = await api('/api/workflows');
  return new Map((list || []).map((w) => [w.key, w]));
}
