// Shared page helpers: safe DOM building, badges, times, toasts, header and
// navigation, the task-card pieces the task pages use, and the job / number
// helpers of the jobs, stores and orders pages. Data only ever goes in via
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

/** Set text only when it differs, so live regions don't re-announce unchanged text. */
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

/** node.replaceChildren(...) that skips null/false and flattens arrays, like el(). */
export function setChildren(node, ...children) {
  node.replaceChildren();
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
  // jobs and orders
  pending: 'Pending',
  running: 'Running',
  failed: 'Failed',
  cancelled: 'Cancelled',
  sent: 'Sent',
  processing: 'Processing',
};

/** statusBadge('running') → <span class="badge badge-running">Running</span>; extraClass is optional. */
export function statusBadge(status, extraClass) {
  const cls = `badge badge-${status}${extraClass ? ` ${extraClass}` : ''}`;
  return el('span', { class: cls }, STATUS_LABELS[status] || status);
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

/** "in 2m", "in 45s", "due now" for a time in the future. */
export function relativeFuture(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((t - now) / 1000);
  if (s <= 0) return 'due now';
  if (s < 60) return `in ${s}s`;
  const m = Math.round(s / 60);
  if (m < 60) return `in ${m}m`;
  const h = Math.round(m / 60);
  if (h < 24) return `in ${h}h`;
  return `in ${Math.round(h / 24)}d`;
}

/** <time> for a future moment ("in 2m"), kept fresh like timeAgo. */
export function timeUntil(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return el('time', { class: 'rel-until', datetime: iso, title: d.toLocaleString() }, relativeFuture(iso));
}

/** Re-render every relative time under `root`. Pages that need a faster beat call it themselves. */
export function refreshTimes(root = document) {
  const now = Date.now();
  for (const t of root.querySelectorAll('time.rel-time')) {
    t.textContent = relativeTime(t.getAttribute('datetime'), now);
  }
  for (const t of root.querySelectorAll('time.rel-until')) {
    t.textContent = relativeFuture(t.getAttribute('datetime'), now);
  }
}

setInterval(() => refreshTimes(), 30000);

/** 72000 → "1m 12s"; 3 h 5 min → "3h 5m"; null → "—". */
export function formatDuration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return ms <= 0 ? '0s' : '<1s';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

// ---------- numbers ----------

/** 1234 → "1,234" (the user's locale); null → "—". */
export function formatNumber(n) {
  return n == null || !Number.isFinite(Number(n)) ? '—' : Number(n).toLocaleString();
}

/** A price with two decimals, in `currency` when it is a known ISO code. null → "—". */
export function formatMoney(value, currency) {
  if (value == null || value === '' || !Number.isFinite(Number(value))) return '—';
  const n = Number(value);
  if (currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(n);
    } catch { /* not an ISO code: fall through and print it after the number */ }
  }
  const text = n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return currency ? `${text} ${currency}` : text;
}

/** "1 check", "3 checks" */
export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Only http(s) links become <a href>; anything else (javascript: …) stays text. */
export function safeHttpUrl(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

// ---------- timing ----------

/** Run fn at most once per `ms`; a call inside the quiet period runs once at its end. */
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    const run = () => { timer = null; last = Date.now(); fn(); };
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
}

/** Call fn `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

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

/**
 * GET /api/me; redirects to the login page or to the page for the user's role.
 * `role` is one role or an array of the roles the page allows.
 */
export async function requireUser(role) {
  const allowed = Array.isArray(role) ? role : [role];
  let user;
  try {
    user = await api('/api/me');
  } catch (err) {
    if (err.status === 401) goToLogin();
    throw err;
  }
  if (!allowed.includes(user.role)) {
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
  const brand = document.querySelector('.topbar .brand');
  if (brand) brand.setAttribute('href', homeFor(user.role));
  renderNav(user);
}

// The pages each role may open, in header order.
const NAV_LINKS = {
  ADMIN: [['/admin', 'Approvals'], ['/jobs', 'Jobs'], ['/stores', 'Stores'], ['/orders', 'Orders']],
  ADMIN_LIMITED: [['/my', 'My tasks'], ['/orders', 'Orders']],
};

/** Fill <nav id="site-nav"> with the role's pages; the current one gets aria-current="page". */
function renderNav(user) {
  let nav = document.getElementById('site-nav');
  if (!nav) {
    const title = document.querySelector('.topbar .page-title');
    if (!title) return;
    nav = el('nav', { id: 'site-nav', class: 'site-nav', 'aria-label': 'Main' });
    title.after(nav);
  }
  const links = NAV_LINKS[user.role] || [];
  const here = location.pathname.replace(/\/+$/, '') || '/';
  nav.replaceChildren(el('ul', { class: 'nav-list' }, links.map(([href, label]) => {
    const current = href === here;
    return el('li', {},
      el('a', {
        href, class: `nav-link${current ? ' is-current' : ''}`, 'aria-current': current ? 'page' : null,
      }, label));
  })));
  nav.hidden = !links.length;
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
export function insertSorted(list, card, sortKey, selector = '.task-card') {
  card.dataset.sort = sortKey;
  for (const other of list.querySelectorAll(`:scope > ${selector}`)) {
    if (other !== card && Number(other.dataset.sort) < sortKey) {
      list.insertBefore(card, other);
      return;
    }
  }
  list.append(card);
}

/** Show the list's data-empty message when it has no cards. */
export function syncEmpty(list, selector = '.task-card') {
  const hasCards = !!list.querySelector(`:scope > ${selector}`);
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

// ---------- forms ----------

/**
 * Which of `fields` ({name: input}) a server message such as
 * "user_identifier must not be empty" is about: the field named earliest in
 * the message ("user_identifier" also matches "user identifier"). null if none.
 */
export function fieldForMessage(message, fields) {
  const text = String(message || '').toLowerCase();
  let best = null;
  let bestAt = Infinity;
  for (const [name, input] of Object.entries(fields)) {
    for (const variant of new Set([name, name.replace(/_/g, ' ')])) {
      // field names are plain [a-z_] words, so they need no escaping
      const re = new RegExp(`(^|[^a-z_])${variant}($|[^a-z_])`);
      const m = re.exec(text);
      // prefer the earliest mention; on a tie the longer name (price_selector over price)
      if (m && (m.index < bestAt || (m.index === bestAt && name.length > (best?.name.length || 0)))) {
        best = { name, input };
        bestAt = m.index;
      }
    }
  }
  return best ? best.input : null;
}

/** Show or clear the error under an input; the <p> is `#{input.id}-error`. */
export function setFieldError(input, message) {
  const error = document.getElementById(`${input.id}-error`);
  if (error) {
    error.textContent = message;
    error.hidden = !message;
  }
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

/**
 * Swap `oldNode` for `newNode`; if focus was on a control with one of the
 * `hooks` classes inside it, focus the same control in the new node.
 */
export function replaceKeepingFocus(oldNode, newNode, hooks = []) {
  const active = document.activeElement;
  const hook = active && oldNode.contains(active) ? hooks.find((c) => active.classList.contains(c)) : null;
  oldNode.replaceWith(newNode);
  if (hook) newNode.querySelector(`.${hook}:not(:disabled)`)?.focus({ preventScroll: true });
}

// ---------- jobs ----------

export const JOB_FINAL = new Set(['completed', 'failed', 'cancelled']);
export const isJobActive = (job) => !!job && (job.status === 'pending' || job.status === 'running');

const JOB_STAGE = { pending: 0, running: 1, completed: 2, failed: 2, cancelled: 2 };

/**
 * Should `incoming` replace `current` (same job)? Jobs carry no updated_at, so
 * order by lifecycle stage, then by items processed: a REST reply that was
 * overtaken by live events must not roll a row back.
 */
export function shouldApplyJob(incoming, current) {
  if (!current) return true;
  if (JSON.stringify(incoming) === JSON.stringify(current)) return false;
  const a = JOB_STAGE[incoming.status] ?? 1;
  const b = JOB_STAGE[current.status] ?? 1;
  if (a !== b) return a > b;
  if (a === 2) return true;
  return (incoming.items_processed ?? 0) >= (current.items_processed ?? 0);
}

/** The job without the detail-only fields, so list copies compare equal. */
export function jobSummary(job) {
  const { failures, ...rest } = job;
  return rest;
}

/** Percent done (0–100) or null when the total is unknown. */
export function jobPercent(job) {
  if (job.progress_percent != null && Number.isFinite(Number(job.progress_percent))) {
    return Number(job.progress_percent);
  }
  if (job.items_total > 0) return Math.min(100, ((job.items_processed || 0) / job.items_total) * 100);
  return null;
}

/** Progress bar + "37 / 120" for a job; keep it current with updateJobProgress. */
export function jobProgress(job) {
  // aria-live off: inside a live region it would be read out on every progress event.
  const row = el('div', { class: 'progress-row job-progress', 'aria-live': 'off' },
    el('div', {
      class: 'progress', role: 'progressbar', 'aria-label': 'Items processed', 'aria-valuemin': 0,
    }, el('div', { class: 'progress-fill' })),
    el('span', { class: 'progress-text' }));
  updateJobProgress(row, job);
  return row;
}

/** Update a jobProgress() node in place, so the fill animates instead of jumping. */
export function updateJobProgress(row, job) {
  const bar = row.querySelector('.progress');
  const fill = row.querySelector('.progress-fill');
  const text = row.querySelector('.progress-text');
  const done = job.items_processed || 0;
  const total = job.items_total;
  const pct = jobPercent(job);
  const known = pct != null;
  bar.dataset.percent = known ? String(job.progress_percent ?? Math.round(pct * 10) / 10) : '';
  bar.dataset.status = job.status;
  // Unknown total: a running job shows a moving stripe, a finished one a full bar.
  bar.classList.toggle('is-indeterminate', !known && job.status === 'running');
  const width = known ? Math.max(0, Math.min(100, pct)) : (JOB_FINAL.has(job.status) ? 100 : 0);
  fill.style.width = `${width}%`;
  if (total != null && total > 0) {
    bar.setAttribute('aria-valuemax', total);
    bar.setAttribute('aria-valuenow', Math.min(done, total));
  } else {
    bar.removeAttribute('aria-valuemax');
    bar.removeAttribute('aria-valuenow');
  }
  bar.setAttribute('aria-valuetext', `${done} of ${total == null ? 'unknown' : total} items`);
  text.textContent = `${done} / ${total == null ? '?' : total}`;
}

/** <span class="failed-count"> red when > 0. */
export function failedCount(job) {
  const n = job.items_failed || 0;
  return el('span', {
    class: `failed-count${n > 0 ? ' has-failures' : ''}`, dataset: { count: n },
    title: `${n} failed ${n === 1 ? 'item' : 'items'}`,
  }, String(n));
}

/**
 * Milliseconds a job has run, ticking for running jobs. `receivedAt` is when
 * this copy arrived: duration_ms was measured by the server then, so adding
 * the local time since avoids any clock skew between browser and server.
 */
export function jobElapsed(job, receivedAt, now = Date.now()) {
  if (job.status === 'running') {
    if (job.duration_ms != null) return job.duration_ms + Math.max(0, now - receivedAt);
    const started = Date.parse(job.started_at);
    return Number.isNaN(started) ? null : Math.max(0, now - started);
  }
  if (job.duration_ms != null) return job.duration_ms;
  const started = Date.parse(job.started_at);
  const finished = Date.parse(job.finished_at);
  return Number.isNaN(started) || Number.isNaN(finished) ? null : Math.max(0, finished - started);
}

/** "store:12" → 12, anything else → null */
export function storeIdOfScope(scope) {
  const m = /^store:(\d+)$/.exec(scope || '');
  return m ? Number(m[1]) : null;
}
