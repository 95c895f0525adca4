// Polite announcements of what changed live (a new task, an approval, a job
// finishing, a PIN arriving) for screen readers, through the page's one
// <div id="announcer" aria-live="polite">. A burst is coalesced: what arrives
// within a moment is counted and read as one short sentence per kind.

import { t } from './i18n.js';

const QUIET_MS = 1500;

const pending = new Map(); // kind → { count, params of the first }
let timer = null;

/**
 * Announce one change of `kind`: alone it reads `announce.{kind}` with
 * `params` ("New task: Register the red truck"); several of a kind in one
 * moment read `announce.{kind}_many` with their count ("3 new tasks").
 */
export function announce(kind, params = {}) {
  const entry = pending.get(kind);
  if (entry) entry.count++;
  else pending.set(kind, { count: 1, params });
  timer ??= setTimeout(flush, QUIET_MS);
}

function flush() {
  timer = null;
  const region = document.getElementById('announcer');
  const text = [...pending].map(([kind, { count, params }]) =>
    (count === 1 ? t(`announce.${kind}`, params) : t(`announce.${kind}_many`, { count }))).join(' ');
  pending.clear();
  if (!region || !text) return;
  // Cleared first, so the same sentence twice in a row is read twice.
  region.textContent = '';
  setTimeout(() => { region.textContent = text; }, 50);
}
