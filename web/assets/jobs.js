// ADMIN jobs dashboard: stats cards, status/kind filters and a live table of
// jobs whose rows update in place; a row opens to show its message, error and
// failed items.

import { announce } from './announce.js';
import { api } from './api.js';
import { svg } from './chart.js';
import { el, setChildren, setText } from './dom.js';
import { busy, refocusIfLost } from './focus.js';
import {
  statusBadge, timeAgo, dateTime, refreshTimes, formatDuration, formatNumber, formatPercent,
} from './format.js';
import { NewestViews } from './freshness.js';
import { t } from './i18n.js';
import {
  isJobActive, jobSummary, jobProgress, updateJobProgress, failedCount, jobElapsed,
} from './job-progress.js';
import { toast, errorMessage } from './notify.js';
import { startPage } from './page.js';
import { throttle } from './timing.js';

const PAGE_SIZE = 100;
const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];
const COLUMNS = 8;

const tbody = document.getElementById('jobs-body');
const table = document.getElementById('jobs-table');
const emptyNote = document.getElementById('jobs-empty');
const countEl = document.getElementById('jobs-count');
const moreButton = document.getElementById('jobs-more');
const statusFilter = document.getElementById('filter-status');
const kindFilter = document.getElementById('filter-kind');

const jobs = new NewestViews(); // id → Job (without `failures`)
const receivedAt = new Map();  // id → when that copy arrived; running durations tick from it
const kinds = new Set();       // every kind seen, for the kind filter
const expanded = new Set();    // ids whose details row is open
const details = new Map();     // id → { list, loading, error, timer }: failures from GET /api/jobs/{id}
const confirming = new Set();  // ids whose delete waits for confirmation

const filter = { status: '', kind: '', scope: '', from: '', to: '' };
const scopeFilter = document.getElementById('filter-scope');
const fromFilter = document.getElementById('filter-from');
const toFilter = document.getElementById('filter-to');
const DAY_MS = 24 * 3600 * 1000;
/** The start of a date input's day in the browser's zone; "to" keeps jobs created before the next day starts. */
const dayStart = (day) => (day ? Date.parse(`${day}T00:00:00`) : NaN);
// Oldest job id loaded for the current filter while older pages exist (null:
// everything matching is loaded). Rows below it stay hidden, so "load older"
// continues without gaps.
let floorId = null;
let nextBefore = null;
let viewSeq = 0; // replies of a superseded filter are dropped

const matches = (job) => {
  if (filter.status && job.status !== filter.status) return false;
  if (filter.kind && job.kind !== filter.kind) return false;
  if (filter.scope && job.scope !== filter.scope) return false;
  const created = Date.parse(job.created_at);
  if (filter.from && created < dayStart(filter.from)) return false;
  if (filter.to && created >= dayStart(filter.to) + DAY_MS) return false;
  return true;
};
const inView = (job) => matches(job) && (floorId == null || job.id >= floorId);
const rowOf = (id) => tbody.querySelector(`tr.job-row[data-job-id="${CSS.escape(String(id))}"]`);
const detailsOf = (id) => document.getElementById(`job-details-${id}`);

// ---------- rows ----------

function buildRow(job) {
  const tr = el('tr', { class: 'job-row', dataset: { jobId: job.id, status: job.status } },
    el('td', { class: 'col-job cell-main' },
      el('button', {
        type: 'button', class: 'job-toggle', 'aria-expanded': 'false', 'aria-controls': `job-details-${job.id}`,
        title: t('jobs.show_details'),
      }, el('span', { class: 'job-name' })),
      el('div', { class: 'job-sub' }, el('span', { class: 'job-kind' }), el('span', { class: 'job-scope' }))),
    el('td', { class: 'col-status', 'data-label': t('jobs.col_status') }),
    el('td', { class: 'col-progress', 'data-label': t('jobs.col_progress') }, jobProgress(job)),
    el('td', { class: 'col-failed num', 'data-label': t('jobs.col_failed') }),
    el('td', { class: 'col-age nowrap', 'data-label': t('jobs.col_age') },
      timeAgo(job.created_at) || '—', el('span', { class: 'age-note' })),
    el('td', { class: 'col-duration nowrap', 'data-label': t('jobs.col_duration') },
      el('span', { class: 'job-duration' })),
    el('td', { class: 'col-remaining num', 'data-label': t('jobs.col_remaining') },
      el('span', { class: 'job-remaining' })),
    el('td', { class: 'col-actions' }));
  fillRow(tr, job);
  return tr;
}

/** Update a row in place (keeps focus, hover and the progress animation). */
function fillRow(tr, job) {
  tr.dataset.status = job.status;
  setText(tr.querySelector('.job-name'), job.name || t('jobs.job_number', { id: String(job.id) }));
  setText(tr.querySelector('.job-kind'), job.kind || '');
  const scope = tr.querySelector('.job-scope');
  setText(scope, job.scope || '');
  scope.hidden = !job.scope;

  // The status cell is announced (the table is a live region): touch it only when it changes.
  const statusCell = tr.querySelector('.col-status');
  const cancelling = !!job.cancel_requested && isJobActive(job);
  if (statusCell.dataset.state !== `${job.status}:${cancelling}`) {
    statusCell.dataset.state = `${job.status}:${cancelling}`;
    setChildren(statusCell, statusBadge(job.status),
      cancelling ? el('span', { class: 'cancel-note' }, t('jobs.cancel_requested')) : null);
  }
  updateJobProgress(tr.querySelector('.job-progress'), job);
  tr.querySelector('.col-failed').replaceChildren(failedCount(job));
  setText(tr.querySelector('.job-duration'), formatDuration(jobElapsed(job, receivedAt.get(job.id))));
  const remaining = job.remaining_items ??
    (job.items_total != null ? Math.max(0, job.items_total - (job.items_processed || 0)) : null);
  setText(tr.querySelector('.job-remaining'), formatNumber(remaining));
  markAge(tr, job);
  fillActions(tr, job);
}

// How old a running job may get before its age is flagged (from its creation, queueing included).
const AGE_SLOW_MS = 5 * 60 * 1000;
const AGE_OLD_MS = 30 * 60 * 1000;

/** Flags the age of a running job by how old it is: a colour, a word beside it and a title (never colour alone). */
function markAge(tr, job, now = Date.now()) {
  const cell = tr.querySelector('.col-age');
  const age = now - Date.parse(job.created_at);
  let level = '';
  let note = '';
  let title = '';
  if (job.status === 'running' && Number.isFinite(age)) {
    const duration = formatDuration(age);
    if (age >= AGE_OLD_MS) [level, note, title] = ['old', t('jobs.age_over_30m'), t('jobs.age_old_title', { duration })];
    else if (age >= AGE_SLOW_MS) [level, note, title] = ['slow', t('jobs.age_over_5m'), t('jobs.age_slow_title', { duration })];
    else [level, title] = ['fresh', t('jobs.age_running_title', { duration })];
  }
  if (cell.dataset.age !== level) {
    if (level) cell.dataset.age = level; else delete cell.dataset.age;
  }
  setText(cell.querySelector('.age-note'), note);
  if (title) cell.title = title; else cell.removeAttribute('title');
}

function fillActions(tr, job) {
  const cell = tr.querySelector('.col-actions');
  const state = isJobActive(job) ? `active:${!!job.cancel_requested}` : `final:${job.status}:${confirming.has(job.id)}`;
  if (cell.dataset.state === state) return; // unchanged: keep the buttons (and focus)
  cell.dataset.state = state;
  const name = job.name || t('jobs.job_number', { id: String(job.id) });
  let content;
  if (isJobActive(job)) {
    content = job.cancel_requested
      ? el('button', { type: 'button', class: 'btn btn-small btn-danger-outline cancel-job', disabled: true }, t('jobs.cancelling'))
      : el('button', {
        type: 'button', class: 'btn btn-small btn-danger-outline cancel-job', 'aria-label': t('jobs.cancel_label', { name }),
      }, t('common.cancel'));
  } else if (confirming.has(job.id)) {
    content = [
      el('span', { class: 'confirm-text' }, t('jobs.delete_confirm')),
      el('button', {
        type: 'button', class: 'btn btn-small btn-danger confirm-delete-job', 'aria-label': t('jobs.delete_yes_label', { name }),
      }, t('jobs.delete')),
      el('button', { type: 'button', class: 'btn btn-small btn-ghost cancel-delete-job' }, t('jobs.keep')),
    ];
  } else {
    content = [
      canRetry(job)
        ? el('button', {
          type: 'button', class: 'btn btn-small btn-ghost retry-job', 'aria-label': t('jobs.retry_label', { name }),
        }, t('jobs.retry'))
        : null,
      el('button', {
        type: 'button', class: 'btn btn-small btn-ghost delete-job', 'aria-label': t('jobs.delete_label', { name }),
      }, t('jobs.delete')),
    ];
  }
  cell.replaceChildren(el('div', { class: 'row-actions' }, content));
}

// The server's own kinds: a failed or cancelled one can be started again (workers restart theirs).
const RETRYABLE_KINDS = ['scrape_store', 'catalog_import'];
const canRetry = (job) => RETRYABLE_KINDS.includes(job.kind) && ['failed', 'cancelled'].includes(job.status);

/** Keep rows in descending id order (newest first); the details row follows its job row. */
function placeRow(tr, id) {
  let before = null;
  for (const other of tbody.querySelectorAll(':scope > tr.job-row')) {
    if (Number(other.dataset.jobId) < id) { before = other; break; }
  }
  tbody.insertBefore(tr, before);
}

function removeRow(id) {
  rowOf(id)?.remove();
  detailsOf(id)?.remove();
}

function flashRow(tr, cls) {
  tr.classList.remove('is-new', 'is-updated');
  void tr.offsetWidth; // restart the animation
  tr.classList.add(cls);
  setTimeout(() => tr.classList.remove(cls), 2600);
}

function updateCounts() {
  const rows = tbody.querySelectorAll(':scope > tr.job-row').length;
  countEl.textContent = formatNumber(rows);
  table.hidden = rows === 0;
  emptyNote.classList.remove('loading');
  emptyNote.hidden = rows > 0;
  if (!rows) emptyNote.textContent = t(Object.values(filter).some(Boolean) ? 'jobs.none_match' : 'jobs.none');
  moreButton.hidden = nextBefore == null;
}

// ---------- details ----------

function detailFact(label, ...value) {
  return el('div', {}, el('dt', {}, label), el('dd', {}, ...value));
}

function fillDetails(tr, job) {
  const info = details.get(job.id) || {};
  const list = info.list || [];
  // Skip the rebuild when nothing shown changed (progress events come often).
  const key = JSON.stringify([job.status, job.message, job.error_message, job.started_at, job.finished_at,
    job.items_total, job.items_failed, job.cancel_requested, info.loading, info.error, list]);
  if (tr.dataset.key === key) return;
  tr.dataset.key = key;

  const who = job.created_by_name
    || (job.created_by != null ? t('common.user_number', { id: String(job.created_by) }) : t('jobs.a_worker'));
  let failuresPart;
  if (info.loading && !info.list) failuresPart = el('p', { class: 'muted' }, t('jobs.failures_loading'));
  else if (info.error && !info.list) {
    failuresPart = el('p', { class: 'item-error' }, t('jobs.failures_failed', { message: info.error }));
  }
  else if (!list.length) failuresPart = el('p', { class: 'muted job-failures-none' }, t('jobs.no_failures'));
  else {
    failuresPart = [
      el('ul', { class: 'job-failures' }, list.map((f) => el('li', { class: 'job-failure' },
        el('span', { class: 'failure-item' }, f.item == null ? '—' : String(f.item)),
        el('span', { class: 'failure-reason-text' }, f.reason || t('jobs.unknown_reason')),
        el('span', { class: 'failure-at' }, timeAgo(f.at))))),
      (job.items_failed || 0) > list.length
        ? el('p', { class: 'muted' }, t('jobs.failures_shown', { shown: list.length, count: job.items_failed }))
        : null,
    ];
  }

  setChildren(tr.querySelector('.job-details-body'),
    el('dl', { class: 'detail-grid' },
      detailFact(t('jobs.col_job'), `#${job.id} · ${job.kind || '—'}`, job.scope ? ` · ${job.scope}` : ''),
      detailFact(t('jobs.created'), dateTime(job.created_at), ' ', t('task.by', { name: who })),
      detailFact(t('jobs.started'), dateTime(job.started_at)),
      detailFact(t('jobs.finished'), dateTime(job.finished_at)),
      detailFact(t('jobs.items'), t('jobs.items_summary', {
        processed: job.items_processed || 0, total: job.items_total == null ? '?' : job.items_total, failed: job.items_failed || 0,
      }))),
    el('p', { class: 'job-message' }, el('span', { class: 'label' }, t('jobs.message')), ' ', job.message || t('jobs.none_message')),
    job.error_message
      ? el('p', { class: 'job-error', role: 'note' }, el('span', { class: 'label' }, t('jobs.error')), ' ', job.error_message)
      : null,
    el('div', { class: 'job-failures-wrap' },
      el('h3', { class: 'job-failures-head' }, t('jobs.failures_head', { count: job.items_failed || 0 })),
      failuresPart));
}

function ensureDetails(job) {
  const tr = rowOf(job.id);
  if (!tr) return;
  let row = detailsOf(job.id);
  if (!row) {
    row = el('tr', { class: 'job-details', id: `job-details-${job.id}`, dataset: { detailsFor: job.id } },
      el('td', { colspan: COLUMNS }, el('div', { class: 'job-details-body' })));
  }
  if (tr.nextElementSibling !== row) tr.after(row);
  tr.classList.add('is-expanded');
  tr.querySelector('.job-toggle').setAttribute('aria-expanded', 'true');
  fillDetails(row, job);
}

async function loadFailures(id) {
  const info = details.get(id) || {};
  details.set(id, info);
  info.loading = true;
  info.failedAt = jobs.get(id)?.items_failed;
  info.statusAt = jobs.get(id)?.status;
  try {
    const job = await api(`/api/jobs/${id}`);
    info.list = job.failures || [];
    info.error = null;
    upsert(job);
  } catch (err) {
    info.error = errorMessage(err);
    if (err.status === 404) forget(id);
  } finally {
    info.loading = false;
  }
  const job = jobs.get(id);
  if (job && expanded.has(id)) ensureDetails(job);
}

/** Refetch the failures of an open job when its failed count or status moved (at most every 1.5 s). */
function maybeRefreshFailures(job) {
  const info = details.get(job.id);
  if (!info || info.loading || info.timer) return;
  if (info.failedAt === job.items_failed && info.statusAt === job.status) return;
  info.timer = setTimeout(() => {
    info.timer = null;
    if (expanded.has(job.id)) loadFailures(job.id);
  }, 1500);
}

function toggle(id) {
  const tr = rowOf(id);
  if (!tr) return;
  if (expanded.has(id)) {
    expanded.delete(id);
    detailsOf(id)?.remove();
    tr.classList.remove('is-expanded');
    tr.querySelector('.job-toggle').setAttribute('aria-expanded', 'false');
  } else {
    expanded.add(id);
    loadFailures(id); // marks the entry as loading before the first render
    ensureDetails(jobs.get(id));
  }
}

// ---------- state ----------

function noteKind(kind) {
  if (!kind || kinds.has(kind)) return;
  kinds.add(kind);
  const keep = kindFilter.value;
  kindFilter.replaceChildren(el('option', { value: '' }, t('jobs.all_kinds')),
    ...[...kinds].sort().map((k) => el('option', { value: k }, k)));
  kindFilter.value = keep;
}

/** Store a job (REST reply or event `eventId`); true when it was newer than what we had. */
function store(job, eventId = null) {
  if (!job) return false;
  const summary = jobSummary(job);
  if (!jobs.offer(summary, eventId)) return false;
  receivedAt.set(job.id, Date.now());
  noteKind(summary.kind);
  return true;
}

/** Apply a job and show it; `how` is 'new' or 'updated' for live events, `eventId` their id. */
function upsert(job, how, eventId = null) {
  const previous = jobs.get(job?.id);
  if (!store(job, eventId)) return;
  const current = jobs.get(job.id);
  let tr = rowOf(job.id);
  if (!inView(current)) {
    if (tr) removeRow(job.id);
  } else if (tr) {
    fillRow(tr, current);
    if (how && previous && previous.status !== current.status) flashRow(tr, 'is-updated');
  } else {
    tr = buildRow(current);
    placeRow(tr, current.id);
    if (how) flashRow(tr, 'is-new');
  }
  if (tr?.isConnected && expanded.has(current.id)) {
    ensureDetails(current);
    maybeRefreshFailures(current);
  }
  updateCounts();
}

function forget(id) {
  jobs.delete(id);
  receivedAt.delete(id);
  expanded.delete(id);
  details.delete(id);
  confirming.delete(id);
  removeRow(id);
  updateCounts();
}

/** Rebuild the whole table from the map (after a filter change or a new page). */
function renderAll() {
  const rows = [...jobs.values()].filter(inView).sort((a, b) => b.id - a.id);
  tbody.replaceChildren(...rows.map(buildRow));
  for (const job of rows) if (expanded.has(job.id)) ensureDetails(job);
  updateCounts();
}

/** Load the first page for the current filter, or (older=true) the next older page. */
async function loadView(older = false) {
  const seq = ++viewSeq;
  const q = new URLSearchParams({ limit: PAGE_SIZE });
  if (filter.status) q.set('status', filter.status);
  if (filter.kind) q.set('kind', filter.kind);
  if (filter.scope) q.set('scope', filter.scope);
  if (filter.from) q.set('created_after', new Date(dayStart(filter.from)).toISOString());
  if (filter.to) q.set('created_before', new Date(dayStart(filter.to) + DAY_MS).toISOString());
  if (older && nextBefore != null) q.set('before', nextBefore);
  const res = await api(`/api/jobs?${q}`);
  if (seq !== viewSeq) return; // the filter changed meanwhile
  const items = res?.items || [];
  nextBefore = res?.next_before ?? null;
  floorId = nextBefore == null || !items.length ? null : Math.min(...items.map((j) => j.id));
  for (const job of items) store(job);
  renderAll();
}

// ---------- stats ----------

let statsFailed = false;

function setStat(id, value, text) {
  const node = document.getElementById(id);
  const raw = value == null ? '' : String(value);
  if (node.dataset.value === raw && node.textContent === text) return;
  node.dataset.value = raw;
  node.textContent = text;
}

async function loadStats() {
  try {
    const s = await api('/api/jobs/stats');
    statsFailed = false;
    setStat('stat-total', s.total_jobs, formatNumber(s.total_jobs));
    setStat('stat-active', s.active_jobs, formatNumber(s.active_jobs));
    setStat('stat-completed-today', s.completed_today, formatNumber(s.completed_today));
    setStat('stat-failed', s.failed_jobs, formatNumber(s.failed_jobs));
    setStat('stat-items', s.total_items_processed, formatNumber(s.total_items_processed));
    setStat('stat-success-rate', s.success_rate, formatPercent(s.success_rate));
    setStat('stat-avg-duration', s.avg_duration_ms, s.avg_duration_ms == null ? '—' : formatDuration(s.avg_duration_ms));
    setStat('stat-error-rate', s.error_rate, s.error_rate == null ? '—' : formatPercent(s.error_rate * 100));
    drawFinishedChart(s.finished_per_hour || []);
    fillKinds(s.by_kind || []);
  } catch (err) {
    if (!statsFailed) toast(t('jobs.stats_failed', { message: errorMessage(err) }));
    statsFailed = true;
  }
}

/** 24 bars, oldest hour first (on the left, or the right in a right-to-left language); each bar's title tells its hour and count. */
function drawFinishedChart(perHour) {
  const chart = document.getElementById('finished-chart');
  const key = perHour.join(',');
  if (chart.dataset.values === key) return;
  chart.dataset.values = key;
  const width = 480, height = 120, gap = 4, bar = (width - gap * 23) / 24;
  const max = Math.max(1, ...perHour);
  const total = perHour.reduce((a, b) => a + b, 0);
  const bars = perHour.map((count, i) => {
    const h = Math.max(count ? 3 : 1, Math.round((count / max) * (height - 20)));
    const hoursAgo = 23 - i;
    const slot = document.documentElement.dir === 'rtl' ? 23 - i : i; // time runs the way the page reads
    const label = hoursAgo === 0 ? t('jobs.chart_this_hour') : t('jobs.chart_hours_ago', { count: hoursAgo });
    return svg('rect', {
      x: slot * (bar + gap), y: height - h, width: bar, height: h, rx: 2,
      class: count ? 'bar' : 'bar bar-empty', 'data-count': count,
    }, svg('title', {}, t('jobs.chart_bar', { label, count })));
  });
  chart.replaceChildren(svg('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', preserveAspectRatio: 'none',
    'aria-label': t('jobs.chart_label', { count: total, max }),
  }, ...bars));
}

/** One row per kind: totals, active and failed jobs, and the last 24 hours' duration and item errors. */
function fillKinds(byKind) {
  const body = document.getElementById('kinds-body');
  const key = JSON.stringify(byKind);
  if (body.dataset.values === key) return;
  body.dataset.values = key;
  const percent = (rate) => (rate == null ? '—' : formatPercent(rate * 100));
  body.replaceChildren(...byKind.map((k) => el('tr', { class: 'kind-row', dataset: { kind: k.kind } },
    el('th', { scope: 'row', class: 'cell-main kind-name' }, k.kind),
    el('td', { class: 'num kind-total', 'data-label': t('jobs.kind_total') }, formatNumber(k.total_jobs)),
    el('td', { class: 'num kind-active', 'data-label': t('jobs.stat_active') }, formatNumber(k.active_jobs)),
    el('td', { class: 'num kind-failed', 'data-label': t('jobs.stat_failed') }, formatNumber(k.failed_jobs)),
    el('td', { class: 'num kind-duration', 'data-label': t('jobs.stat_avg_duration') }, formatDuration(k.avg_duration_ms)),
    el('td', { class: 'num kind-error-rate', 'data-label': t('jobs.stat_error_rate') }, percent(k.error_rate)))));
  document.getElementById('kinds-table').hidden = !byKind.length;
  document.getElementById('kinds-empty').hidden = byKind.length > 0;
  for (const k of byKind) noteKind(k.kind);
}

// Stats are not pushed: refetch after job events, at most once per second.
const statsSoon = throttle(loadStats, 1000);

// ---------- live ----------

// Only a job's end is announced: progress comes too often to be read out.
const ANNOUNCED = { 'job.completed': 'job_completed', 'job.failed': 'job_failed', 'job.cancelled': 'job_cancelled' };

function onEvent(frame) {
  const before = jobs.get(frame.data?.id)?.status;
  upsert(frame.data, frame.event === 'job.created' ? 'new' : 'updated', frame.id);
  const kind = ANNOUNCED[frame.event];
  if (kind && before !== frame.data?.status) {
    announce(kind, { name: frame.data.name || t('jobs.job_number', { id: String(frame.data.id) }) });
  }
  statsSoon();
}

// Running durations tick every second; ages refresh every 5 s.
let ticks = 0;
function tick() {
  const now = Date.now();
  for (const tr of tbody.querySelectorAll(':scope > tr.job-row[data-status="running"]')) {
    const job = jobs.get(Number(tr.dataset.jobId));
    if (job) setText(tr.querySelector('.job-duration'), formatDuration(jobElapsed(job, receivedAt.get(job.id), now)));
  }
  if (++ticks % 5 === 0) {
    refreshTimes(tbody);
    for (const tr of tbody.querySelectorAll(':scope > tr.job-row[data-status="running"]')) {
      const job = jobs.get(Number(tr.dataset.jobId));
      if (job) markAge(tr, job, now);
    }
  }
}

// ---------- actions ----------

/** After a row's buttons were rebuilt, put focus back inside the row rather than on <body>. */
function refocus(tr, selector) {
  refocusIfLost(tr.querySelector(`${selector}:not(:disabled)`) || tr.querySelector('.job-toggle'), { preventScroll: true });
}

async function refetch(id) {
  try {
    upsert(await api(`/api/jobs/${id}`));
  } catch (err) {
    if (err.status === 404) forget(id);
  }
}

async function cancelJob(id, button) {
  try {
    const job = await busy(button, () => api(`/api/jobs/${id}/cancel`, { method: 'POST', body: {} }));
    upsert(job);
    statsSoon();
  } catch (err) {
    toast(errorMessage(err));
    if (err.status === 409 || err.status === 404) refetch(id);
  }
  const tr = rowOf(id);
  if (tr) refocus(tr, '.delete-job');
}

async function retryJob(id, button) {
  try {
    const job = await busy(button, () => api(`/api/jobs/${id}/retry`, { method: 'POST', body: {} }));
    upsert(job, 'new');
    statsSoon();
    toast(t('jobs.retried', { name: job.name, id: String(job.id) }), 'success');
  } catch (err) {
    toast(errorMessage(err));
    if (err.status === 404) forget(id);
  }
}

async function deleteJob(id, button) {
  const tr = rowOf(id);
  try {
    await busy(tr ? [...tr.querySelectorAll('.col-actions button')] : button,
      () => api(`/api/jobs/${id}`, { method: 'DELETE' }));
    const name = jobs.get(id)?.name;
    forget(id);
    statsSoon();
    toast(name ? t('jobs.deleted_named', { name }) : t('jobs.deleted'), 'success');
  } catch (err) {
    confirming.delete(id);
    toast(errorMessage(err));
    if (err.status === 404) forget(id);
    else refetch(id);
    const job = jobs.get(id);
    const row = rowOf(id);
    if (job && row) { fillActions(row, job); refocus(row, '.delete-job'); }
  }
}

function setConfirming(id, on) {
  const tr = rowOf(id);
  const job = jobs.get(id);
  if (!tr || !job) return;
  if (on) confirming.add(id); else confirming.delete(id);
  fillActions(tr, job);
  tr.querySelector(on ? '.confirm-delete-job' : '.delete-job')?.focus();
}

tbody.addEventListener('click', (ev) => {
  const button = ev.target.closest('button');
  const tr = ev.target.closest('tr.job-row');
  if (button) {
    if (!tr) return; // buttons in a details row: none yet
    const id = Number(tr.dataset.jobId);
    if (button.classList.contains('job-toggle')) toggle(id);
    else if (button.classList.contains('cancel-job')) cancelJob(id, button);
    else if (button.classList.contains('retry-job')) retryJob(id, button);
    else if (button.classList.contains('delete-job')) setConfirming(id, true);
    else if (button.classList.contains('cancel-delete-job')) setConfirming(id, false);
    else if (button.classList.contains('confirm-delete-job')) deleteJob(id, button);
    return;
  }
  if (!tr || ev.target.closest('a, input, select, textarea')) return;
  if (window.getSelection()?.toString()) return; // the user was selecting text
  toggle(Number(tr.dataset.jobId));
});

tbody.addEventListener('keydown', (ev) => {
  if (ev.key !== 'Escape') return;
  const tr = ev.target.closest('tr.job-row');
  if (tr && confirming.has(Number(tr.dataset.jobId))) setConfirming(Number(tr.dataset.jobId), false);
});

// ---------- filters ----------

function readFilterFromUrl() {
  const q = new URLSearchParams(location.search);
  const status = q.get('status') || '';
  filter.status = STATUSES.includes(status) ? status : '';
  filter.kind = q.get('kind') || '';
  if (filter.kind) noteKind(filter.kind);
  statusFilter.value = filter.status;
  kindFilter.value = filter.kind;
  const day = (value) => (/^\d{4}-\d{2}-\d{2}$/.test(value || '') ? value : '');
  filter.scope = (q.get('scope') || '').slice(0, 200);
  filter.from = day(q.get('from'));
  filter.to = day(q.get('to'));
  scopeFilter.value = filter.scope;
  fromFilter.value = filter.from;
  toFilter.value = filter.to;
}

function writeFilterToUrl() {
  const q = new URLSearchParams();
  if (filter.status) q.set('status', filter.status);
  if (filter.kind) q.set('kind', filter.kind);
  if (filter.scope) q.set('scope', filter.scope);
  if (filter.from) q.set('from', filter.from);
  if (filter.to) q.set('to', filter.to);
  const search = q.toString();
  history.replaceState(null, '', search ? `${location.pathname}?${search}` : location.pathname);
}

async function onFilterChange() {
  filter.status = statusFilter.value;
  filter.kind = kindFilter.value;
  filter.scope = scopeFilter.value.trim();
  filter.from = fromFilter.value;
  filter.to = toFilter.value;
  writeFilterToUrl();
  floorId = null;
  nextBefore = null;
  renderAll(); // show what we already have at once; the fetch fills in the rest
  try {
    await loadView();
  } catch (err) {
    toast(t('jobs.load_failed', { message: errorMessage(err) }));
  }
}

statusFilter.addEventListener('change', onFilterChange);
kindFilter.addEventListener('change', onFilterChange);
scopeFilter.addEventListener('change', onFilterChange);
fromFilter.addEventListener('change', onFilterChange);
toFilter.addEventListener('change', onFilterChange);

moreButton.addEventListener('click', async () => {
  try {
    await busy(moreButton, () => loadView(true));
  } catch (err) {
    toast(t('jobs.more_failed', { message: errorMessage(err) }));
  }
});

// ---------- start ----------

function setup() {
  readFilterFromUrl();
  setInterval(tick, 1000);
}

async function loadSnapshot() {
  await Promise.all([loadView(), loadStats()]);
}

// ADMIN_LIMITED goes to /my.
startPage({ role: 'ADMIN', setup, channels: ['jobs'], load: loadSnapshot, onEvent });
