// How a job's progress shows on the jobs and stores pages: progress bar,
// failed count and elapsed time, updated in place as events arrive.

import { el } from './dom.js';
import { formatNumber, formatPercent } from './format.js';
import { isFinal } from './freshness.js';
import { t } from './i18n.js';

export const isJobActive = (job) => !!job && (job.status === 'pending' || job.status === 'running');

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

/** Progress bar + "45 / 100 (45%)" for a job; keep it current with updateJobProgress. */
export function jobProgress(job) {
  // aria-live off: inside a live region it would be read out on every progress event.
  const row = el('div', { class: 'progress-row job-progress', 'aria-live': 'off' },
    el('div', {
      class: 'progress', role: 'progressbar', 'aria-label': t('job.items_processed'), 'aria-valuemin': 0,
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
  const width = known ? Math.max(0, Math.min(100, pct)) : (isFinal(job) ? 100 : 0);
  fill.style.inlineSize = `${width}%`;
  if (total != null && total > 0) {
    bar.setAttribute('aria-valuemax', total);
    bar.setAttribute('aria-valuenow', Math.min(done, total));
  } else {
    bar.removeAttribute('aria-valuemax');
    bar.removeAttribute('aria-valuenow');
  }
  bar.setAttribute('aria-valuetext', total == null
    ? t('job.items_of_unknown', { done }) : t('job.items_of', { done, count: total }));
  text.textContent = known && total > 0
    ? `${formatNumber(done)} / ${formatNumber(total)} (${formatPercent(Math.floor(Math.min(100, pct)))})`
    : `${formatNumber(done)} / ${total == null || total === 0 ? '?' : formatNumber(total)}`;
}

/** <span class="failed-count"> red when > 0. */
export function failedCount(job) {
  const n = job.items_failed || 0;
  return el('span', {
    class: `failed-count${n > 0 ? ' has-failures' : ''}`, dataset: { count: n },
    title: t('job.failed_items', { count: n }),
  }, formatNumber(n));
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
