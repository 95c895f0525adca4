// Which of two views of one task, job or order is current: the one rule every
// page applies when REST replies and live events about the same thing race.

// Tasks, jobs and orders never leave these statuses.
const FINAL_STATUSES = new Set(['completed', 'rejected', 'failed', 'cancelled']);

export const isFinal = (view) => !!view && FINAL_STATUSES.has(view.status);

/**
 * Should `incoming` replace `current`, two views of the same task, job or
 * order? `incomingEventId` / `currentEventId`: the ids of the live events that
 * brought them, null for REST replies.
 * - Nothing yet: yes. The very same view (a REST reply and its event): no.
 * - A final status wins over a non-final one, whatever the times: nothing
 *   leaves a final status, so a late `job.progress` never reopens a job.
 * - Otherwise the later `updated_at` wins; on the same `updated_at` the
 *   incoming view wins unless both came from events and its event is older.
 */
export function isNewer(incoming, current, incomingEventId = null, currentEventId = null) {
  if (!current) return true;
  if (JSON.stringify(incoming) === JSON.stringify(current)) return false;
  if (isFinal(incoming) !== isFinal(current)) return isFinal(incoming);
  const incomingAt = Date.parse(incoming.updated_at);
  const currentAt = Date.parse(current.updated_at);
  if (Number.isNaN(incomingAt) || Number.isNaN(currentAt)) return true;
  if (incomingAt !== currentAt) return incomingAt > currentAt;
  return incomingEventId == null || currentEventId == null || incomingEventId >= currentEventId;
}

/** The newest view seen of each task, job or order, by id (or by another key), per isNewer. */
export class NewestViews {
  #views = new Map();
  #eventIds = new Map();

  /**
   * Keep `view` under `key` if it is newer than the one held. `eventId`: the
   * id of the live event that brought it, null for a REST reply. True when kept;
   * false too for no view or one without id.
   */
  offer(view, eventId = null, key = view?.id) {
    if (!view || key == null) return false;
    if (!isNewer(view, this.#views.get(key), eventId, this.#eventIds.get(key))) return false;
    this.#views.set(key, view);
    this.#eventIds.set(key, eventId);
    return true;
  }

  get(key) {
    return this.#views.get(key);
  }

  delete(key) {
    this.#views.delete(key);
    this.#eventIds.delete(key);
  }

  clear() {
    this.#views.clear();
    this.#eventIds.clear();
  }

  values() {
    return this.#views.values();
  }

  get size() {
    return this.#views.size;
  }
}
