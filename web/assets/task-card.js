// The pieces of a task card that the approval board and the "my tasks" page
// share: title and meta, outcome line, progress bar, subtask list and history.

import { api } from './api.js';
import { el } from './dom.js';
import { statusBadge, timeAgo, formatPercent } from './format.js';
import { t } from './i18n.js';
import { toast, errorMessage } from './notify.js';

export function sortedSubtasks(task) {
  return [...(task.subtasks || [])].sort((a, b) => a.position - b.position);
}

export function progressBar(task) {
  const subs = task.subtasks || [];
  const total = subs.length;
  const done = subs.filter((s) => s.status === 'done').length;
  const pct = total ? Math.round((done / total) * 100) : 0;
  const fill = el('div', { class: 'progress-fill' });
  fill.style.inlineSize = `${pct}%`;
  return el('div', { class: 'progress-row' },
    el('div', {
      class: 'progress', role: 'progressbar',
      'aria-label': t('task.subtasks_done'), 'aria-valuetext': formatPercent(pct), 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done,
      dataset: { done, total },
    }, fill),
    el('span', { class: 'progress-text' }, t('task.progress', { done, count: total })));
}

/** Who completed a subtask, from the names the task carries. */
function completerName(task, sub, me) {
  if (sub.completed_by_name) return sub.completed_by_name;
  const id = sub.completed_by;
  if (id == null) return null;
  if (me && id === me.id) return t('task.you');
  if (id === task.assignee && task.assignee_name) return task.assignee_name;
  if (id === task.created_by && task.created_by_name) return task.created_by_name;
  if (id === task.decided_by && task.decided_by_name) return task.decided_by_name;
  return t('common.user_number', { id: String(id) });
}

/** <ul> of subtasks; canComplete(sub) decides whether an open one gets a button. */
export function subtaskList(task, { me, canComplete = () => false } = {}) {
  return el('ul', { class: 'subtasks', 'aria-label': t('task.subtasks') },
    sortedSubtasks(task).map((sub) => {
      const done = sub.status === 'done';
      const who = done ? completerName(task, sub, me) : null;
      return el('li', { class: 'subtask', dataset: { subtaskId: sub.id, status: sub.status } },
        el('span', { class: 'subtask-mark', 'aria-hidden': 'true' }, done ? '✓' : ''),
        el('span', { class: 'subtask-body' },
          el('span', { class: 'subtask-title' }, sub.title),
          done && el('span', { class: 'subtask-meta' },
            el('span', { class: 'sr-only' }, t('task.done_sr')),
            who ? `${t('task.done_by', { name: who })} · ` : '', timeAgo(sub.completed_at))),
        !done && canComplete(sub) && el('button', {
          type: 'button', class: 'btn btn-small complete-subtask',
          'aria-label': t('task.complete_label', { title: sub.title }),
        }, t('task.complete')));
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
    el('span', { class: 'meta-age' }, t('task.created'), ' ', timeAgo(task.created_at))),
  historyPanel(task));
}

// ---------- history ----------

/** Tasks whose history is open: a card re-rendered by a live event keeps it open and reloads it. */
const openHistories = new Set();

const HISTORY_WORDS = {
  created: () => t('history.created'),
  approved: () => t('history.approved'),
  rejected: (entry) => (entry.reason ? t('history.rejected_reason', { reason: entry.reason }) : t('history.rejected')),
  subtask_completed: (entry) => t('history.subtask_completed', { name: entry.subtask?.name ?? t('history.a_subtask') }),
  completed: () => t('history.completed'),
};

/** A <details> with who did what when, loaded when opened and again on every change while open. */
function historyPanel(task) {
  const list = el('ol', { class: 'history-list' });
  const details = el('details', { class: 'task-history', open: openHistories.has(task.id) },
    el('summary', {}, t('history.summary')), list);
  details.addEventListener('toggle', () => {
    if (details.open) {
      openHistories.add(task.id);
      loadHistory(task.id, list);
    } else {
      openHistories.delete(task.id);
    }
  });
  if (details.open) loadHistory(task.id, list);
  return details;
}

async function loadHistory(taskId, list) {
  if (!list.childElementCount) list.append(el('li', { class: 'muted' }, t('common.loading')));
  try {
    const entries = await api(`/api/tasks/${taskId}/history`);
    list.replaceChildren(...entries.map((entry) => {
      const words = (HISTORY_WORDS[entry.kind] || (() => entry.kind))(entry);
      return el('li', { class: 'history-entry', dataset: { kind: entry.kind } },
        entry.actor ? el('strong', {}, entry.actor.name, ' ') : null,
        words, ' · ', timeAgo(entry.at));
    }));
  } catch (err) {
    list.replaceChildren(el('li', { class: 'muted' }, t('history.failed', { message: errorMessage(err) })));
  }
}

/** Decision / completion line for approved, completed and rejected tasks. */
export function taskOutcome(task) {
  const by = task.decided_by_name;
  switch (task.status) {
    case 'approved':
      return el('p', { class: 'task-outcome outcome-approved' },
        by ? t('task.approved_by', { name: by }) : t('task.approved'), ' ', timeAgo(task.decided_at));
    case 'completed':
      return el('p', { class: 'task-outcome outcome-completed' },
        el('span', { class: 'outcome-icon', 'aria-hidden': 'true' }, '✓'),
        t('task.completed'), ' ', timeAgo(task.completed_at || task.updated_at));
    case 'rejected':
      return el('div', { class: 'task-outcome outcome-rejected' },
        el('p', { class: 'outcome-head' },
          el('span', { class: 'outcome-icon', 'aria-hidden': 'true' }, '✕'),
          by ? t('task.rejected_by', { name: by }) : t('task.rejected'), ' ', timeAgo(task.decided_at)),
        task.reject_reason
          ? el('p', { class: 'reject-reason-text' }, el('span', { class: 'label' }, t('task.reason'), ' '), task.reject_reason)
          : null);
    default:
      return null;
  }
}

/** Map workflow key → {name, subtasks}; empty, after a toast, when they cannot be loaded. */
export async function loadWorkflows() {
  try {
    const list = await api('/api/workflows');
    return new Map((list || []).map((w) => [w.key, w]));
  } catch (err) {
    toast(t('task.workflows_failed', { message: errorMessage(err) }));
    return new Map();
  }
}
