// Search and filters of a task list — title, status, workflow, assignee — kept
// in the URL. One rule serves the REST query (the snapshot) and live events
// (whether a changed task still belongs on the page).

import { el } from './dom.js';
import { t } from './i18n.js';
import { toast, errorMessage } from './notify.js';
import { debounce } from './timing.js';

const FIELDS = ['q', 'status', 'workflow', 'assignee'];

export class TaskFilter {
  #seq = 0; // bumped on every change of the filters

  /**
   * `form` holds inputs named after FIELDS (any subset); `onChange()` (which
   * may return a promise) runs after the user changes one — the search box
   * waits for a pause in typing — and its failure shows as a toast. Its
   * replies (as any reply of a filtered query) are checked with request().
   */
  constructor(form, onChange) {
    this.form = form;
    this.values = Object.fromEntries(FIELDS.map((name) => [name, '']));
    this.readUrl();
    const changed = async () => {
      this.readForm();
      this.writeUrl();
      this.#seq += 1;
      const isCurrent = this.request();
      try {
        await onChange();
      } catch (err) {
        if (isCurrent()) toast(t('filters.load_failed', { message: errorMessage(err) })); // a newer filter is on its way otherwise
      }
    };
    const typed = debounce(changed, 300);
    form.addEventListener('input', (ev) => { if (ev.target.name === 'q') typed(); });
    form.addEventListener('change', (ev) => { if (ev.target.name !== 'q') changed(); });
    form.addEventListener('submit', (ev) => { ev.preventDefault(); changed(); });
    form.addEventListener('reset', () => setTimeout(changed)); // after the browser cleared the fields
  }

  input(name) {
    return this.form.elements.namedItem(name);
  }

  readUrl() {
    const q = new URLSearchParams(location.search);
    for (const name of FIELDS) {
      const input = this.input(name);
      if (!input) continue;
      this.values[name] = (q.get(name) || '').slice(0, 200);
      input.value = this.values[name];
    }
  }

  readForm() {
    for (const name of FIELDS) {
      const input = this.input(name);
      if (input) this.values[name] = input.value.trim();
    }
  }

  writeUrl() {
    const q = new URLSearchParams(location.search);
    for (const name of FIELDS) {
      if (this.values[name]) q.set(name, this.values[name]); else q.delete(name);
    }
    const search = q.toString();
    history.replaceState(null, '', search ? `${location.pathname}?${search}` : location.pathname);
  }

  /** A select's options may arrive after the URL was read: apply the value again. */
  refreshSelect(name) {
    const input = this.input(name);
    if (input && this.values[name]) input.value = this.values[name];
  }

  /** Whether any filter is set. */
  active() {
    return FIELDS.some((name) => this.values[name]);
  }

  /** The query parameters of `GET /api/tasks` for the filters besides status. */
  params() {
    const { q, workflow, assignee } = this.values;
    return Object.fromEntries(Object.entries({ q, workflow, assignee }).filter(([, v]) => v));
  }

  /** The statuses among `statuses` that the status filter lets through. */
  statuses(statuses) {
    const wanted = this.values.status;
    return wanted ? statuses.filter((s) => s === wanted) : statuses;
  }

  /**
   * Call when asking the server for tasks under the current filters: the
   * returned isCurrent() then tells whether the filters are still the same
   * (false: they changed meanwhile, a newer reply is on its way — drop this one).
   */
  request() {
    const seq = this.#seq;
    return () => seq === this.#seq;
  }

  /** Whether a task belongs on the page: the same rule as the server's. */
  matches(task) {
    const { q, status, workflow, assignee } = this.values;
    if (status && task.status !== status) return false;
    if (workflow && task.workflow !== workflow) return false;
    if (assignee && String(task.assignee) !== assignee) return false;
    if (q && !String(task.title || '').toLowerCase().includes(q.toLowerCase())) return false;
    return true;
  }

  /**
   * For the latest view of a task: true when it stays off the page (it does
   * not pass the filters), and then its `card`, if shown, is removed.
   */
  keepsOut(task, card) {
    if (this.matches(task)) return false;
    card?.remove();
    return true;
  }
}

/** Replaces a select's options after its first ("all") one with `[value, label]` pairs. */
export function fillOptions(select, pairs) {
  const all = select.options[0];
  select.replaceChildren(all, ...pairs.map(([value, label]) => el('option', { value: String(value) }, label)));
}

/** Marks the lists as filtered (their empty message then says nothing matches). */
export function markFiltered(lists, filtered) {
  for (const list of lists) {
    if (filtered) list.dataset.filtered = 'true'; else delete list.dataset.filtered;
  }
}
