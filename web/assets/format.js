// How values read on the pages: status badges, relative times (kept fresh),
// durations, numbers, money and plurals.

import { el } from './dom.js';

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
