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

// ---------- schedules ("6h", "1h 30m", "1day") ----------

// The server writes a schedule the way humantime does: "30m", "6h", "1h 30m", "1day", "2days".
const EVERY_UNITS = {
  year: 31557600, years: 31557600, y: 31557600, month: 2630016, months: 2630016,
  week: 604800, weeks: 604800, w: 604800, day: 86400, days: 86400, d: 86400,
  hour: 3600, hours: 3600, h: 3600, hr: 3600, min: 60, mins: 60, minute: 60, minutes: 60, m: 60,
  sec: 1, secs: 1, second: 1, seconds: 1, s: 1,
};
// The units a schedule is written in, largest first.
const EVERY_PARTS = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
// Up to this count one unit reads best ("90 minutes", "36 hours"); past it the parts do ("3 hours, 7 minutes").
const ONE_UNIT_MAX = 120;

/** "1h 30m" → 5400 (seconds); null when it is not a schedule. */
export function parseEvery(text) {
  const source = String(text ?? '').trim().toLowerCase();
  if (!source) return null;
  let seconds = 0;
  let rest = source;
  const part = /^(\d+)\s*([a-z]+)\s*/;
  while (rest) {
    const m = part.exec(rest);
    if (!m || !(m[2] in EVERY_UNITS)) return null;
    seconds += Number(m[1]) * EVERY_UNITS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return seconds;
}

/**
 * A schedule as one unit and count ({unit: 'hour', count: 6}) when it reads well so
 * (the largest unit that divides it evenly, up to ONE_UNIT_MAX of it), else its
 * parts ([{unit: 'hour', count: 3}, {unit: 'minute', count: 7}]); null when unreadable.
 */
function everyUnits(text) {
  const seconds = parseEvery(text);
  if (seconds == null) return null;
  if (seconds === 0) return { unit: 'second', count: 0 };
  for (const [name, size] of EVERY_PARTS) {
    if (seconds % size === 0 && seconds / size <= ONE_UNIT_MAX) return { unit: name, count: seconds / size };
  }
  const parts = [];
  let left = seconds;
  for (const [name, size] of EVERY_PARTS) {
    const count = Math.floor(left / size);
    left -= count * size;
    if (count) parts.push({ unit: name, count });
  }
  return parts.length === 1 ? parts[0] : parts;
}

const longUnits = new Map();
/** 6 "hour" → "6 hours" / "6 часов" / "6 годин" / "6 ساعات". */
function unitLong(n, name) {
  if (!longUnits.has(name)) longUnits.set(name, new Intl.NumberFormat(lang, { style: 'unit', unit: name, unitDisplay: 'long' }));
  return longUnits.get(name).format(n);
}
const unitList = new Intl.ListFormat(lang, { type: 'unit', style: 'long' });

/**
 * A schedule's length in words, in the page's language: "6h" → "6 hours",
 * "90m" or "1h 30m" → "90 minutes", "1day" → "1 day", "36h" → "36 hours",
 * "3h 7m" → "3 hours, 7 minutes". Anything unreadable reads as itself.
 */
export function formatEvery(text) {
  const units = everyUnits(text);
  if (!units) return String(text ?? '');
  if (!Array.isArray(units)) return unitLong(units.count, units.unit);
  return unitList.format(units.map((p) => unitLong(p.count, p.unit)));
}

/**
 * "every 6 hours" / "каждые 6 часов" / "кожні 6 годин" / "كل 6 ساعات": the whole
 * phrase, from the catalog, so "every" agrees with its count and unit
 * ("every hour", "каждую минуту", "كل ساعتين").
 */
export function formatEveryPhrase(text) {
  const units = everyUnits(text);
  if (!units) return t('time.every_duration', { duration: String(text ?? '') });
  if (Array.isArray(units)) return t('time.every_duration', { duration: formatEvery(text) });
  if (units.count === 1) return t(`time.every_one_${units.unit}`);
  return t(`time.every_${units.unit}`, { count: units.count });
}
