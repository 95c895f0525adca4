// How values read on the pages, in the page's language (Intl): status badges,
// dates and times (in the browser's time zone, named on hover), relative
// times (kept fresh), durations, numbers, percentages and money.

import { el } from './dom.js';
import { lang, t, has } from './i18n.js';

// Colour is never the only sign of a status: each badge has its word and an icon.
const STATUS_ICONS = {
  pending_approval: '◷', approved: '▸', completed: '✓', rejected: '✕',
  pending: '◷', running: '▸', failed: '✕', cancelled: '⊘', sent: '↗', processing: '⟳',
};

/** The word for a task, job or order status ("Pending approval"); an unknown status reads as itself. */
export const statusLabel = (status) => (has(`status.${status}`) ? t(`status.${status}`) : status);

/** statusBadge('running') → <span class="badge badge-running">▸ Running</span>; extraClass is optional. */
export function statusBadge(status, extraClass) {
  const cls = `badge badge-${status}${extraClass ? ` ${extraClass}` : ''}`;
  return el('span', { class: cls },
    STATUS_ICONS[status] ? el('span', { class: 'badge-icon', 'aria-hidden': 'true' }, STATUS_ICONS[status]) : null,
    statusLabel(status));
}

const relative = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
const fullDate = new Intl.DateTimeFormat(lang, {
  year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', second: '2-digit',
  timeZoneName: 'long',
});
const shortDate = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });

/** A moment in full, with the browser's time zone named: the title of every <time>. */
export const fullDateTime = (iso) => fullDate.format(new Date(iso));

/** "5 minutes ago" ("now" under 45 s, the date after a week), in the page's language. */
export function relativeTime(iso, now = Date.now()) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 45) return relative.format(0, 'second');
  const m = Math.round(s / 60);
  if (m < 60) return relative.format(-m, 'minute');
  const h = Math.round(m / 60);
  if (h < 24) return relative.format(-h, 'hour');
  const d = Math.round(h / 24);
  if (d < 7) return relative.format(-d, 'day');
  return new Date(at).toLocaleDateString(lang);
}

/** <time> that keeps itself fresh (see the interval below); its title names the time and zone. */
export function timeAgo(iso) {
  if (!iso) return null;
  return el('time', { class: 'rel-time', datetime: iso, title: fullDateTime(iso) }, relativeTime(iso));
}

/** "in 2 minutes", "in 45 seconds", "due now" for a time in the future. */
export function relativeFuture(iso, now = Date.now()) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  const s = Math.round((at - now) / 1000);
  if (s <= 0) return t('time.due_now');
  if (s < 60) return relative.format(s, 'second');
  const m = Math.round(s / 60);
  if (m < 60) return relative.format(m, 'minute');
  const h = Math.round(m / 60);
  if (h < 24) return relative.format(h, 'hour');
  return relative.format(Math.round(h / 24), 'day');
}

/** <time> for a future moment ("in 2 minutes"), kept fresh like timeAgo. */
export function timeUntil(iso) {
  if (!iso) return null;
  return el('time', { class: 'rel-until', datetime: iso, title: fullDateTime(iso) }, relativeFuture(iso));
}

/** <time> with the date and time ("30 Nov 2026, 20:34"), the zone named on hover; null → "—". */
export function dateTime(iso) {
  if (!iso || Number.isNaN(Date.parse(iso))) return '—';
  return el('time', { datetime: iso, title: fullDateTime(iso) }, shortDate.format(new Date(iso)));
}

/** Re-render every relative time under `root`. Pages that need a faster beat call it themselves. */
export function refreshTimes(root = document) {
  const now = Date.now();
  for (const time of root.querySelectorAll('time.rel-time')) {
    time.textContent = relativeTime(time.getAttribute('datetime'), now);
  }
  for (const time of root.querySelectorAll('time.rel-until')) {
    time.textContent = relativeFuture(time.getAttribute('datetime'), now);
  }
}

setInterval(() => refreshTimes(), 30000);

const units = new Map();
/** 12 "second" → "12s" in English, "12 с" in Russian. */
function unit(n, name) {
  if (!units.has(name)) units.set(name, new Intl.NumberFormat(lang, { style: 'unit', unit: name, unitDisplay: 'narrow' }));
  return units.get(name).format(n);
}

/** 72000 → "1m 12s"; 3 h 5 min → "3h 5m"; null → "—". */
export function formatDuration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return ms <= 0 ? unit(0, 'second') : `<${unit(1, 'second')}`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return unit(s, 'second');
  const m = Math.floor(s / 60);
  if (m < 60) return `${unit(m, 'minute')} ${unit(s % 60, 'second')}`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${unit(h, 'hour')} ${unit(m % 60, 'minute')}`;
  return `${unit(Math.floor(h / 24), 'day')} ${unit(h % 24, 'hour')}`;
}

const numbers = new Intl.NumberFormat(lang);
/** 1234 → "1,234" (in the page's language); null → "—". */
export function formatNumber(n) {
  return n == null || !Number.isFinite(Number(n)) ? '—' : numbers.format(Number(n));
}

const percents = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 });
/** 45.5 (out of 100) → "45.5%"; null → "—". */
export function formatPercent(value) {
  return value == null || !Number.isFinite(Number(value)) ? '—' : percents.format(Number(value) / 100);
}

/** A price with two decimals, in `currency` when it is a known ISO code. null → "—". */
export function formatMoney(value, currency) {
  if (value == null || value === '' || !Number.isFinite(Number(value))) return '—';
  const n = Number(value);
  if (currency) {
    try {
      return new Intl.NumberFormat(lang, { style: 'currency', currency }).format(n);
    } catch { /* not an ISO code: fall through and print it after the number */ }
  }
  const text = n.toLocaleString(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return currency ? `${text} ${currency}` : text;
}
