// ADMIN stores page: stores with live scrape progress, the selected store's
// items, and the catalog (exclusive import with live progress + products).

import { announce } from './announce.js';
import { api } from './api.js';
import { el, flash, setChildren, setText, syncEmpty, safeHttpUrl } from './dom.js';
import { busy, focusLost, refocusIfLost, replaceKeepingFocus } from './focus.js';
import { setFieldError, setFormError, showServerError } from './forms.js';
import {
  statusBadge, timeAgo, timeUntil, formatDuration, formatMoney, formatNumber, formatEveryPhrase,
} from './format.js';
import { NewestViews, isFinal } from './freshness.js';
import { lang, t } from './i18n.js';
import {
  isJobActive, jobSummary, jobProgress, updateJobProgress, failedCount, jobElapsed,
} from './job-progress.js';
import { toast, errorMessage } from './notify.js';
import { startPage } from './page.js';
import { openProduct, refreshProduct } from './product-panel.js';
import { throttle, debounce } from './timing.js';

const LINGER_MS = 5000;       // a finished scrape's progress stays this long on its card
const PRODUCT_ROWS_MAX = 200; // the catalog can be large: show the first rows, ask to search

const $ = (id) => document.getElementById(id);

const storesList = $('stores-list');
const storesCount = $('stores-count');
const newStoreForm = $('new-store-form');
const newStoreName = $('new-store-name');
const createStoreButton = $('create-store-button');
const selectAll = $('select-all-stores');
const scrapeSelectedButton = $('scrape-selected');
const activateSelectedButton = $('activate-selected');
const deactivateSelectedButton = $('deactivate-selected');

const itemsContent = $('items-content');
const itemsStoreName = $('items-store-name');
const itemsCount = $('items-count');
const refreshItemsButton = $('refresh-items');
const itemForm = $('add-item-form');
const itemError = $('add-item-error');
const itemButton = $('add-item-button');
const itemInputs = {
  name: $('item-name'),
  url: $('item-url'),
  sku: $('item-sku'),
  price_selector: $('item-price-selector'),
  stock_selector: $('item-stock-selector'),
};

const importFile = $('import-file');
const importButton = $('import-catalog');
const importStatus = $('import-status');
const productSearch = $('product-search');
const productsTable = $('products-table');
const productsBody = $('products-body');
const productsEmpty = $('products-empty');
const productsNote = $('products-note');
const productsCount = $('products-count');

const stores = new Map();       // id → Store
const checked = new Set();      // store ids ticked for "Scrape selected", "Activate selected"…
const scrapeJobs = new NewestViews(); // store id → latest job with scope store:{id}
const lingerUntil = new Map();  // store id → time until which a finished scrape stays visible
const pending = new Set();      // `${action}:${storeId}` requests in flight (their buttons stay disabled)
const receivedAt = new Map();   // job id → when that copy arrived (ticking durations)
let selectedId = null;
let itemsSeq = 0;
const imports = new NewestViews(); // LATEST → the latest catalog import
const LATEST = 'latest';
let productsSeq = 0;

// ---------- store cards ----------

const cardOf = (id) => storesList.querySelector(`.store-card[data-store-id="${CSS.escape(String(id))}"]`);
const sortedStores = () => [...stores.values()]
  .sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) || a.id - b.id);

function buildCard(store) {
  const id = store.id;
  const card = el('article', { class: 'store-card', dataset: { storeId: id }, 'aria-labelledby': `store-name-${id}` },
    el('div', { class: 'store-head' },
      el('input', { type: 'checkbox', class: 'store-select', id: `store-select-${id}` }),
      el('button', { type: 'button', class: 'store-open', id: `store-name-${id}`, title: t('stores.show_items') }),
      el('span', { class: 'badge badge-inactive store-inactive' }, t('stores.inactive'))),
    el('p', { class: 'store-meta' },
      el('span', { class: 'store-items-count' }),
      el('span', { class: 'store-last-scraped' }),
      el('span', { class: 'store-next-scrape' })),
    el('div', { class: 'store-actions' },
      el('button', { type: 'button', class: 'switch toggle-active', role: 'switch' },
        el('span', { class: 'switch-track', 'aria-hidden': 'true' }),
        el('span', { class: 'switch-label' })),
      el('label', { class: 'schedule-field' },
        el('span', { class: 'schedule-label' }, t('stores.auto_scrape')),
        el('select', { class: 'store-schedule' })),
      el('button', { type: 'button', class: 'btn btn-small scrape-store' }, t('stores.scrape_now'))));
  fillCard(card, store);
  return card;
}

/** Update a card in place: no stale elements, focus and checkbox state survive. */
function fillCard(card, store) {
  const id = store.id;
  const active = !!store.is_active;
  card.dataset.active = String(active);
  card.classList.toggle('is-selected', id === selectedId);

  const select = card.querySelector('.store-select');
  select.checked = checked.has(id);
  select.setAttribute('aria-label', t('stores.select_label', { name: store.name }));
  const open = card.querySelector('.store-open');
  setText(open, store.name);
  open.setAttribute('aria-pressed', String(id === selectedId));
  card.querySelector('.store-inactive').hidden = active;

  const n = store.items_count ?? 0;
  const count = card.querySelector('.store-items-count');
  count.dataset.count = n;
  setText(count, t('stores.item_count', { count: n }));
  const scraped = card.querySelector('.store-last-scraped');
  if (scraped.dataset.at !== (store.last_scraped_at || '')) { // rebuilt only when it changed
    scraped.dataset.at = store.last_scraped_at || '';
    setChildren(scraped, store.last_scraped_at
      ? [t('stores.scraped'), ' ', timeAgo(store.last_scraped_at)] : t('stores.never_scraped'));
  }

  fillSchedule(card, store);

  const toggle = card.querySelector('.toggle-active');
  toggle.setAttribute('aria-checked', String(active));
  toggle.setAttribute('aria-label', t('stores.active_label', { name: store.name }));
  toggle.disabled = pending.has(`toggle:${id}`);
  // The switch's position and aria-checked tell the state (an inactive store also has its badge);
  // its word stays, so its accessible name keeps the visible word.
  setText(card.querySelector('.switch-label'), t('stores.active'));

  fillScrape(card, store);
}

/** "every 90 minutes" → "Every 90 minutes" (a picker's option starts a sentence). */
const capitalize = (text) => text.charAt(0).toLocaleUpperCase(lang) + text.slice(1);

// The schedules the card offers; a store's own other value is shown as well.
const SCHEDULES = [['', 'stores.schedule_off'], ['30m', 'stores.schedule_30m'], ['1h', 'stores.schedule_1h'],
  ['6h', 'stores.schedule_6h'], ['12h', 'stores.schedule_12h'], ['1day', 'stores.schedule_1day']];

/** "Next scrape in 2h" on the card, and the schedule picker. */
function fillSchedule(card, store) {
  const next = card.querySelector('.store-next-scrape');
  const key = `${store.scrape_every || ''}|${store.next_scrape_at || ''}|${store.is_active}`;
  if (next.dataset.key !== key) {
    next.dataset.key = key;
    next.dataset.at = store.next_scrape_at || '';
    const every = store.scrape_every && formatEveryPhrase(store.scrape_every); // "every 6 hours"
    if (!every) setChildren(next, t('stores.scraped_by_hand'));
    else if (!store.is_active) setChildren(next, t('stores.schedule_paused', { every }));
    else setChildren(next, t('stores.schedule_next', { every }), ' ', timeUntil(store.next_scrape_at) || '—');
  }
  const select = card.querySelector('.store-schedule');
  const value = store.scrape_every || '';
  const options = (SCHEDULES.some(([v]) => v === value) ? SCHEDULES : [...SCHEDULES, [value, null]])
    .map(([v, key]) => [v, key ? t(key) : capitalize(formatEveryPhrase(v))]);
  if (select.dataset.options !== JSON.stringify(options)) {
    select.dataset.options = JSON.stringify(options);
    select.replaceChildren(...options.map(([v, label]) => el('option', { value: v }, label)));
  }
  if (document.activeElement !== select || !pending.has(`schedule:${store.id}`)) select.value = value;
  select.disabled = pending.has(`schedule:${store.id}`);
  select.setAttribute('aria-label', t('stores.schedule_label', { name: store.name }));
}

/** The scrape button and the live progress box of one card. */
function fillScrape(card, store) {
  const id = store.id;
  const job = scrapeJobs.get(id);
  const running = isJobActive(job);
  const button = card.querySelector('.scrape-store');
  button.disabled = !store.is_active || running || pending.has(`scrape:${id}`);
  setText(button, t(running ? 'stores.scraping' : 'stores.scrape_now'));
  button.title = store.is_active ? '' : t('stores.activate_to_scrape');
  // The accessible name holds the visible words (WCAG 2.5.3): "Scrape now: Corner shop", or "Scraping…".
  if (running) button.removeAttribute('aria-label');
  else button.setAttribute('aria-label', t('stores.scrape_label', { name: store.name }));

  let box = card.querySelector('.store-progress');
  const show = job && (running || (lingerUntil.get(id) || 0) > Date.now());
  if (!show) {
    box?.remove();
    return;
  }
  if (!box || box.dataset.jobId !== String(job.id)) {
    box?.remove();
    box = el('div', { class: 'store-progress', 'aria-live': 'off' },
      el('div', { class: 'store-progress-head' },
        el('span', { class: 'store-progress-badge' }),
        el('span', { class: 'muted' }, t('stores.failed')),
        el('span', { class: 'store-progress-failed' })),
      jobProgress(job));
    card.querySelector('.store-actions').before(box);
  }
  box.dataset.jobId = job.id;
  box.dataset.status = job.status;
  const badge = box.querySelector('.store-progress-badge');
  if (badge.dataset.status !== job.status) {
    badge.dataset.status = job.status;
    badge.replaceChildren(statusBadge(job.status));
  }
  box.querySelector('.store-progress-failed').replaceChildren(failedCount(job));
  updateJobProgress(box.querySelector('.job-progress'), job);
}

function refreshCard(id) {
  const card = cardOf(id);
  const store = stores.get(id);
  if (card && store) fillCard(card, store);
}

/** Sync the list with `stores`: update cards in place, add new ones, drop removed ones, keep name order. */
function renderStores() {
  const wanted = sortedStores();
  const ids = new Set(wanted.map((s) => String(s.id)));
  for (const card of storesList.querySelectorAll(':scope > .store-card')) {
    if (!ids.has(card.dataset.storeId)) card.remove();
  }
  let prev = null;
  for (const store of wanted) {
    let card = cardOf(store.id);
    if (card) fillCard(card, store);
    else card = buildCard(store);
    // Move only cards that are out of place (moving a focused node would drop focus).
    const expected = prev ? prev.nextElementSibling : storesList.firstElementChild;
    if (card !== expected) {
      if (prev) prev.after(card);
      else storesList.prepend(card);
    }
    prev = card;
  }
  storesList.querySelector(':scope > .empty.loading')?.remove();
  syncEmpty(storesList, '.store-card');
  storesCount.textContent = formatNumber(stores.size);
  syncSelection();
}

async function loadStores() {
  const list = await api('/api/stores');
  stores.clear();
  for (const s of list || []) stores.set(s.id, s);
  for (const id of [...checked]) if (!stores.has(id)) checked.delete(id);
  renderStores();
  if (selectedId != null && !stores.has(selectedId)) selectStore(null);
  else if (selectedId != null) itemsStoreName.textContent = `· ${stores.get(selectedId).name}`;
}

const reloadStoresSoon = throttle(() => loadStores().catch(() => {}), 1000);

// ---------- checkboxes and "scrape selected" ----------

function syncSelection() {
  const n = checked.size;
  scrapeSelectedButton.disabled = n === 0 || pending.has('scrape:selected');
  scrapeSelectedButton.textContent = n ? t('stores.scrape_selected_n', { count: n }) : t('stores.scrape_selected');
  // One bulk activation at a time: both buttons wait for it.
  const bulkBusy = pending.has('active:selected');
  activateSelectedButton.disabled = n === 0 || bulkBusy;
  activateSelectedButton.textContent = n ? t('stores.activate_selected_n', { count: n }) : t('stores.activate_selected');
  deactivateSelectedButton.disabled = n === 0 || bulkBusy;
  deactivateSelectedButton.textContent = n ? t('stores.deactivate_selected_n', { count: n }) : t('stores.deactivate_selected');
  for (const button of [activateSelectedButton, deactivateSelectedButton]) {
    if (bulkBusy) button.setAttribute('aria-busy', 'true'); else button.removeAttribute('aria-busy');
  }
  selectAll.checked = n > 0 && n === stores.size;
  selectAll.indeterminate = n > 0 && n < stores.size;
  selectAll.disabled = stores.size === 0;
}

storesList.addEventListener('change', (ev) => {
  const box = ev.target.closest('.store-select');
  if (!box) return;
  const id = Number(box.closest('.store-card').dataset.storeId);
  if (box.checked) checked.add(id); else checked.delete(id);
  syncSelection();
  if (box.checked) selectStore(id); // the store just ticked also shows its items
});

selectAll.addEventListener('change', () => {
  checked.clear();
  if (selectAll.checked) for (const id of stores.keys()) checked.add(id);
  for (const store of stores.values()) refreshCard(store.id);
  syncSelection();
});

scrapeSelectedButton.addEventListener('click', async () => {
  const ids = [...checked].filter((id) => stores.get(id)?.is_active);
  const skipped = checked.size - ids.length;
  if (!ids.length) {
    toast(t('stores.all_inactive'), 'info');
    return;
  }
  pending.add('scrape:selected');
  syncSelection();
  try {
    const jobs = await api('/api/stores/scrape', { method: 'POST', body: { store_ids: ids } });
    for (const job of jobs || []) applyJob(job, true);
    const started = (jobs || []).length;
    toast(skipped ? t('stores.started_skipped', { count: started, skipped }) : t('stores.started', { count: started }), 'success');
  } catch (err) {
    toast(errorMessage(err));
  } finally {
    pending.delete('scrape:selected');
    syncSelection();
  }
});

/** Activate (`active` true) or deactivate every ticked store in one request; the ticks stay. */
async function setSelectedActive(active) {
  const ids = [...checked].filter((id) => stores.has(id)).sort((a, b) => a - b);
  if (!ids.length || pending.has('active:selected')) return;
  const button = active ? activateSelectedButton : deactivateSelectedButton;
  pending.add('active:selected');
  for (const id of ids) pending.add(`toggle:${id}`); // their switches wait too
  syncSelection();
  for (const id of ids) refreshCard(id);
  try {
    const updated = await api('/api/stores/bulk', { method: 'POST', body: { store_ids: ids, is_active: active } });
    for (const store of updated) {
      stores.set(store.id, { ...stores.get(store.id), ...store });
    }
    const count = updated.length;
    toast(t(active ? 'stores.bulk_activated' : 'stores.bulk_deactivated', { count }), 'success');
  } catch (err) {
    if (err.status === 404) {
      toast(t('stores.bulk_missing'));
      reloadStoresSoon(); // some store went away meanwhile: show the list as it is now
    } else {
      toast(errorMessage(err));
    }
  } finally {
    pending.delete('active:selected');
    for (const id of ids) pending.delete(`toggle:${id}`);
    for (const id of ids) refreshCard(id);
    syncSelection();
    // The button was disabled while it worked, which drops focus: give it back.
    refocusIfLost(button);
  }
}

activateSelectedButton.addEventListener('click', () => setSelectedActive(true));
deactivateSelectedButton.addEventListener('click', () => setSelectedActive(false));

// ---------- card actions ----------

async function scrapeStore(id) {
  pending.add(`scrape:${id}`);
  refreshCard(id);
  try {
    const job = await api(`/api/stores/${id}/scrape`, { method: 'POST', body: {} });
    applyJob(job, true);
  } catch (err) {
    toast(errorMessage(err));
    if (err.status === 409) reloadStoresSoon(); // e.g. someone deactivated it
  } finally {
    pending.delete(`scrape:${id}`);
    refreshCard(id);
  }
}

async function toggleActive(id) {
  const store = stores.get(id);
  if (!store) return;
  pending.add(`toggle:${id}`);
  refreshCard(id);
  try {
    const updated = await api(`/api/stores/${id}`, { method: 'PATCH', body: { is_active: !store.is_active } });
    stores.set(id, { ...store, ...updated });
  } catch (err) {
    toast(errorMessage(err));
  } finally {
    pending.delete(`toggle:${id}`);
    refreshCard(id);
    refocusIfLost(cardOf(id)?.querySelector('.toggle-active'));
  }
}

async function changeSchedule(id, value) {
  const store = stores.get(id);
  if (!store) return;
  pending.add(`schedule:${id}`);
  refreshCard(id);
  try {
    const updated = await api(`/api/stores/${id}`, { method: 'PATCH', body: { scrape_every: value || null } });
    stores.set(id, { ...store, ...updated });
    toast(value ? t('stores.schedule_set', { name: store.name, every: formatEveryPhrase(updated.scrape_every) })
      : t('stores.schedule_cleared', { name: store.name }), 'success');
  } catch (err) {
    toast(errorMessage(err));
  } finally {
    pending.delete(`schedule:${id}`);
    refreshCard(id);
  }
}

storesList.addEventListener('change', (ev) => {
  const select = ev.target.closest('.store-schedule');
  if (select) changeSchedule(Number(select.closest('.store-card').dataset.storeId), select.value);
});

storesList.addEventListener('click', (ev) => {
  const card = ev.target.closest('.store-card');
  if (!card) return;
  const id = Number(card.dataset.storeId);
  const button = ev.target.closest('button');
  if (button?.classList.contains('scrape-store')) scrapeStore(id);
  else if (button?.classList.contains('toggle-active')) toggleActive(id);
  else if (button?.classList.contains('store-open')) selectStore(id);
  else if (!button && !ev.target.closest('input, label, a, select')) selectStore(id); // the card's background
});

// ---------- new store ----------

newStoreForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = newStoreName.value.trim();
  setFieldError(newStoreName, '');
  if (!name) {
    setFieldError(newStoreName, t('stores.name_missing'));
    newStoreName.focus();
    return;
  }
  try {
    const store = await busy(createStoreButton, () => api('/api/stores', { method: 'POST', body: { name } }));
    stores.set(store.id, store);
    renderStores();
    selectStore(store.id);
    newStoreForm.reset();
    cardOf(store.id)?.scrollIntoView({ block: 'nearest' });
    toast(t('stores.created', { name: store.name }), 'success');
  } catch (err) {
    if (err.status === 400 || err.status === 409) {
      setFieldError(newStoreName, errorMessage(err));
      newStoreName.focus();
    } else {
      toast(errorMessage(err));
    }
  }
});

newStoreName.addEventListener('input', () => { if (newStoreName.value.trim()) setFieldError(newStoreName, ''); });

// ---------- items of the selected store ----------

// Each freshness reads as `freshness.{key}`, explained by `freshness.{key}_title`.
const FRESHNESS = ['fresh', 'hours', 'stale', 'never'];

function freshnessBadge(freshness) {
  const key = FRESHNESS.includes(freshness) ? freshness : 'never';
  return el('span', { class: 'freshness-badge', dataset: { freshness: key }, title: t(`freshness.${key}_title`) },
    t(`freshness.${key}`));
}

function stockText(inStock) {
  const text = inStock === true ? t('stores.in_stock') : inStock === false ? t('stores.out_of_stock') : '—';
  return el('span', { class: 'stock', dataset: { inStock: inStock == null ? '' : String(inStock) } }, text);
}

function buildItemRow(item, sig = JSON.stringify(item)) {
  const href = safeHttpUrl(item.url);
  // data-sig: the item the row shows, so a reload rebuilds only the rows whose item changed.
  return el('tr', { class: 'item-row', dataset: { itemId: item.id, sig } },
    el('td', { class: 'cell-main' },
      href
        ? el('a', { class: 'item-link', href, target: '_blank', rel: 'noopener noreferrer', title: item.url }, item.name)
        : el('span', { class: 'item-name', title: item.url || '' }, item.name)),
    el('td', { 'data-label': t('stores.sku') }, el('span', { class: 'item-sku' }, item.sku || '—')),
    el('td', { class: 'num', 'data-label': t('stores.price') }, el('span', { class: 'item-price' }, formatMoney(item.price))),
    el('td', { 'data-label': t('stores.stock') }, stockText(item.in_stock)),
    el('td', { 'data-label': t('stores.freshness') }, freshnessBadge(item.freshness)),
    el('td', { class: 'nowrap', 'data-label': t('stores.scraped_col') }, item.scraped_at ? timeAgo(item.scraped_at) : t('stores.never')),
    el('td', { 'data-label': t('stores.last_error') },
      item.last_error ? el('span', { class: 'item-error' }, item.last_error) : el('span', { class: 'muted' }, '—')),
    el('td', { class: 'col-actions', 'data-label': t('stores.actions') }, itemActions(item)));
}

/** Edit and Delete of an item row; their names hold the item's ("Edit Football Pro"). */
function itemActions(item) {
  return el('span', { class: 'row-actions item-actions' },
    el('button', {
      type: 'button', class: 'btn btn-ghost btn-small item-edit', 'aria-expanded': 'false',
      'aria-label': t('stores.item_edit_label', { name: item.name }),
    }, t('stores.item_edit')),
    el('button', {
      type: 'button', class: 'btn btn-danger-outline btn-small item-delete',
      'aria-label': t('stores.item_delete_label', { name: item.name }),
    }, t('stores.item_delete')));
}

const ITEM_COLUMNS = ['item', 'sku', 'price', 'stock', 'freshness', 'scraped_col', 'last_error', 'actions'];

/** Show `list` as #items-table; the table node stays while the same store is shown. */
function renderItems(storeId, list) {
  let table = $('items-table');
  if (!table || table.dataset.storeId !== String(storeId)) {
    table = el('table', { id: 'items-table', class: 'data-table items-table', dataset: { storeId } },
      el('caption', { class: 'sr-only' }, t('stores.items_caption')),
      el('thead', {}, el('tr', {},
        ITEM_COLUMNS.map((h) =>
          el('th', { scope: 'col', class: h === 'price' ? 'num' : h === 'actions' ? 'col-actions' : null }, t(`stores.${h}`))))),
      el('tbody', { id: 'items-body' }));
    itemsContent.replaceChildren(el('div', { class: 'table-wrap' }, table));
  }
  const body = table.tBodies[0];
  itemsOnShow.clear();
  for (const item of list) itemsOnShow.set(item.id, item);
  // A row being edited or asked about (delete?) stays as it is, its form or question with it;
  // so does the row of an unchanged item. A changed item's row is rebuilt in place, focus kept.
  const wanted = [];
  for (const item of list) {
    const old = itemRowOf(item.id);
    if (old?.dataset.state) {
      wanted.push(old);
      const form = editRowOf(item.id);
      if (form) wanted.push(form);
      continue;
    }
    const sig = JSON.stringify(item);
    if (old?.dataset.sig === sig) {
      wanted.push(old);
    } else {
      const row = buildItemRow(item, sig);
      if (old) replaceKeepingFocus(old, row, ['item-edit', 'item-delete']);
      wanted.push(row);
    }
  }
  // Put the rows in order, moving only those out of place (moving a focused row would drop focus).
  let prev = null;
  for (const row of wanted) {
    const expected = prev ? prev.nextElementSibling : body.firstElementChild;
    if (row !== expected) {
      if (prev) prev.after(row);
      else body.prepend(row);
    }
    prev = row;
  }
  const keep = new Set(wanted);
  for (const row of [...body.rows]) if (!keep.has(row)) row.remove();
  syncItemsEmpty();
}

/** The table, its "no items" note and the items count, after rows came or went. */
function syncItemsEmpty() {
  const table = $('items-table');
  if (!table) return;
  const n = table.tBodies[0].querySelectorAll(':scope > tr.item-row').length;
  table.hidden = !n;
  let empty = itemsContent.querySelector(':scope > .empty');
  if (!n && !empty) {
    empty = el('p', { class: 'empty' }, t('stores.no_items'));
    itemsContent.append(empty);
  } else if (n) empty?.remove();
  itemsCount.textContent = formatNumber(n);
  itemsCount.hidden = false;
}

const itemRowOf = (id) => $('items-table')?.querySelector(`tr.item-row[data-item-id="${CSS.escape(String(id))}"]`) || null;
const editRowOf = (id) => $('items-table')?.querySelector(`tr.item-edit-row[data-item-id="${CSS.escape(String(id))}"]`) || null;
const itemsOnShow = new Map(); // item id → the item as last shown (what its edit form starts from)

async function loadItems({ quiet = false } = {}) {
  const id = selectedId;
  if (id == null) return;
  const seq = ++itemsSeq;
  if (!quiet) itemsContent.replaceChildren(el('p', { class: 'empty loading' }, t('stores.items_loading')));
  try {
    const list = await api(`/api/stores/${id}/items`);
    if (seq !== itemsSeq || id !== selectedId) return;
    renderItems(id, list || []);
  } catch (err) {
    if (seq !== itemsSeq) return;
    if (quiet) toast(t('stores.items_refresh_failed', { message: errorMessage(err) }));
    else itemsContent.replaceChildren(el('p', { class: 'empty' }, t('stores.items_failed', { message: errorMessage(err) })));
  }
}

function selectStore(id) {
  if (id === selectedId) return;
  selectedId = id;
  for (const store of stores.values()) refreshCard(store.id);
  const q = new URLSearchParams(location.search);
  if (id == null) q.delete('store'); else q.set('store', id);
  const search = q.toString();
  history.replaceState(null, '', search ? `${location.pathname}?${search}` : location.pathname);

  clearItemForm();
  itemForm.hidden = id == null;
  refreshItemsButton.hidden = id == null;
  if (id == null) {
    itemsStoreName.textContent = '';
    itemsCount.hidden = true;
    itemsContent.replaceChildren(el('p', { class: 'empty' },
      t(stores.size ? 'stores.select_store' : 'stores.create_first')));
    return;
  }
  itemsStoreName.textContent = `· ${stores.get(id)?.name || ''}`;
  itemsCount.hidden = true;
  loadItems();
}

refreshItemsButton.addEventListener('click', () => busy(refreshItemsButton, () => loadItems({ quiet: true })));

// ---------- edit and delete an item ----------

// The fields of an item's edit form: [field, label key, max length, optional?]
const EDIT_FIELDS = [
  ['name', 'stores.item_name', 200, false],
  ['url', 'stores.item_url', 2000, false],
  ['sku', 'stores.sku', 100, true],
  ['price_selector', 'stores.price_selector', 500, true],
  ['stock_selector', 'stores.stock_selector', 500, true],
];

/** The inline form under an item's row: its fields prefilled, Save and Cancel; Escape cancels. */
function openItemEdit(row) {
  const id = Number(row.dataset.itemId);
  const item = itemsOnShow.get(id);
  if (!item) return;
  const existing = editRowOf(id);
  if (existing) {
    existing.querySelector('input')?.focus();
    return;
  }
  if (row.dataset.state === 'confirming') closeItemConfirm(row, false);
  const prefix = `edit-item-${id}`;
  const inputs = {};
  const original = {};
  const fields = EDIT_FIELDS.map(([name, labelKey, max, optional]) => {
    const input = el('input', {
      id: `${prefix}-${name}`, name, type: name === 'url' ? 'url' : 'text', maxlength: max, autocomplete: 'off',
      spellcheck: name.endsWith('_selector') ? 'false' : null, required: !optional,
      'aria-describedby': `${prefix}-${name}-error`,
      placeholder: name === 'price_selector' ? '.price' : name === 'stock_selector' ? '.in-stock' : null,
    });
    original[name] = item[name] ?? '';
    input.value = original[name];
    input.addEventListener('input', () => { if (input.value.trim()) setFieldError(input, ''); });
    inputs[name] = input;
    return el('div', { class: 'field' },
      el('label', { for: input.id }, t(labelKey), ' ', optional
        ? el('span', { class: 'optional' }, t('common.optional'))
        : el('span', { class: 'req', 'aria-hidden': 'true' }, '*')),
      input,
      el('p', { id: `${input.id}-error`, class: 'field-error', hidden: true }));
  });
  const error = el('p', { class: 'form-error item-edit-error', role: 'alert', hidden: true });
  const save = el('button', { type: 'submit', class: 'btn btn-primary btn-small item-save' }, t('stores.item_save'));
  const cancel = el('button', { type: 'button', class: 'btn btn-ghost btn-small item-cancel' }, t('common.cancel'));
  const heading = el('h3', { class: 'form-head', id: `${prefix}-head` }, t('stores.item_edit_label', { name: item.name }));
  const form = el('form', { class: 'item-edit-form', novalidate: true, 'aria-labelledby': heading.id },
    heading, ...fields, error, el('div', { class: 'form-actions' }, save, cancel));
  const editRow = el('tr', { class: 'item-edit-row', dataset: { itemId: id } },
    el('td', { class: 'item-edit-cell', colspan: ITEM_COLUMNS.length }, form));
  row.dataset.state = 'editing';
  row.classList.add('is-editing');
  row.querySelector('.item-edit')?.setAttribute('aria-expanded', 'true');
  row.after(editRow);
  inputs.name.focus();
  inputs.name.select();

  cancel.addEventListener('click', () => closeItemEdit(id, true));
  form.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !save.disabled) {
      ev.preventDefault();
      closeItemEdit(id, true);
    }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    saveItem(id, { form, inputs, original, error, save, cancel });
  });
}

/** Close an item's edit form; `refocus`: back to its Edit button. */
function closeItemEdit(id, refocus) {
  editRowOf(id)?.remove();
  const row = itemRowOf(id);
  if (!row) return;
  delete row.dataset.state;
  row.classList.remove('is-editing');
  const edit = row.querySelector('.item-edit');
  edit?.setAttribute('aria-expanded', 'false');
  if (refocus) edit?.focus();
}

/** A row built anew for `item` in place of its old one (and form), focus on its Edit button if asked. */
function replaceItemRow(item, focusEdit) {
  itemsOnShow.set(item.id, item);
  editRowOf(item.id)?.remove();
  const old = itemRowOf(item.id);
  const row = buildItemRow(item);
  if (old) old.replaceWith(row);
  else $('items-table')?.tBodies[0].append(row);
  if (focusEdit) row.querySelector('.item-edit').focus();
  return row;
}

async function saveItem(id, { inputs, original, error, save, cancel }) {
  const storeId = selectedId;
  if (storeId == null) return;
  for (const input of Object.values(inputs)) setFieldError(input, '');
  setFormError(error, '');
  const values = Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.value.trim()]));
  if (!values.name) setFieldError(inputs.name, t('stores.item_name_missing'));
  if (!values.url) setFieldError(inputs.url, t('stores.item_url_missing'));
  const invalid = Object.values(inputs).find((input) => input.getAttribute('aria-invalid') === 'true');
  if (invalid) {
    invalid.focus();
    return;
  }
  // Only what changed; an emptied optional field is cleared (null; the price selector then is ".price").
  const body = {};
  for (const [name, value] of Object.entries(values)) {
    if (value !== String(original[name] ?? '').trim()) body[name] = value || null;
  }
  if (!Object.keys(body).length) {
    closeItemEdit(id, true);
    return;
  }
  try {
    const item = await busy([save, cancel], () =>
      api(`/api/stores/${storeId}/items/${id}`, { method: 'PATCH', body }));
    itemsSeq += 1; // a list loaded before the save must not bring the old values back
    if (storeId !== selectedId) return;
    flash(replaceItemRow(item, true));
    toast(t('stores.item_saved', { name: item.name }), 'success');
    reloadProductsSoon(); // a new SKU or price may change the offers
  } catch (err) {
    if (storeId !== selectedId) return;
    if (err.status === 404) {
      removeItemRow(id);
      toast(t('stores.item_gone'));
      reloadStoresSoon();
    } else if (err.status === 400) {
      showServerError(err, inputs, error)?.focus(); // under the field the message names, else the form's box
    } else {
      toast(errorMessage(err));
    }
  }
}

/** Delete? The row's buttons give way to the question and Delete / Keep. */
function askItemDelete(row) {
  const id = Number(row.dataset.itemId);
  const item = itemsOnShow.get(id);
  if (!item || row.dataset.state === 'confirming') return;
  if (row.dataset.state === 'editing') closeItemEdit(id, false);
  const question = el('span', { class: 'item-confirm-text', id: `delete-item-${id}-q` },
    t('stores.item_delete_question', { name: item.name }));
  const confirm = el('button', {
    type: 'button', class: 'btn btn-danger btn-small item-delete-confirm', 'aria-describedby': question.id,
  }, t('stores.item_delete_confirm'));
  const keep = el('button', { type: 'button', class: 'btn btn-ghost btn-small item-delete-keep' }, t('stores.item_keep'));
  const box = el('span', { class: 'item-confirm', role: 'group', 'aria-labelledby': question.id }, question, confirm, keep);
  box.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !confirm.disabled) {
      ev.preventDefault();
      closeItemConfirm(row, true);
    }
  });
  row.dataset.state = 'confirming';
  row.querySelector('.item-actions').replaceWith(box);
  keep.focus(); // the safe choice has the focus; Delete is one Tab away
}

/** Back from the question to Edit / Delete; `refocus`: on Delete. */
function closeItemConfirm(row, refocus) {
  const item = itemsOnShow.get(Number(row.dataset.itemId));
  const box = row.querySelector('.item-confirm');
  if (!box || !item) return;
  delete row.dataset.state;
  const actions = itemActions(item);
  box.replaceWith(actions);
  if (refocus) actions.querySelector('.item-delete').focus();
}

/** Drop an item's row (and form); focus goes to a neighbour's Edit button, or the add-item form. */
function removeItemRow(id) {
  const row = itemRowOf(id);
  const active = document.activeElement;
  // Focus inside the row or its form, or dropped to <body> by a button disabled while it worked.
  const hadFocus = focusLost() || row?.contains(active) || editRowOf(id)?.contains(active);
  let neighbour = row?.nextElementSibling;
  while (neighbour && !neighbour.matches('tr.item-row')) neighbour = neighbour.nextElementSibling;
  if (!neighbour) {
    neighbour = row?.previousElementSibling;
    while (neighbour && !neighbour.matches('tr.item-row')) neighbour = neighbour.previousElementSibling;
  }
  editRowOf(id)?.remove();
  row?.remove();
  itemsOnShow.delete(id);
  syncItemsEmpty();
  if (hadFocus) (neighbour?.querySelector('.item-edit') || itemInputs.name).focus();
}

async function deleteItem(row) {
  const storeId = selectedId;
  const id = Number(row.dataset.itemId);
  const item = itemsOnShow.get(id);
  if (storeId == null || !item) return;
  const buttons = [...row.querySelectorAll('.item-confirm button')];
  try {
    await busy(buttons, () => api(`/api/stores/${storeId}/items/${id}`, { method: 'DELETE' }));
    itemsSeq += 1; // a list loaded before the delete must not bring the row back
    if (storeId !== selectedId) return;
    removeItemRow(id);
    const store = stores.get(storeId);
    if (store) {
      stores.set(storeId, { ...store, items_count: Math.max(0, (store.items_count ?? 1) - 1) });
      refreshCard(storeId);
    }
    toast(t('stores.item_deleted', { name: item.name }), 'success');
    reloadProductsSoon(); // its price no longer counts
  } catch (err) {
    if (err.status === 404) { // already gone: the row goes too
      if (storeId === selectedId) removeItemRow(id);
      toast(t('stores.item_already_deleted', { name: item.name }), 'info');
      reloadStoresSoon();
    } else {
      toast(errorMessage(err));
    }
  }
}

itemsContent.addEventListener('click', (ev) => {
  const button = ev.target.closest('button');
  const row = button?.closest('tr.item-row');
  if (!row) return;
  if (button.classList.contains('item-edit')) openItemEdit(row);
  else if (button.classList.contains('item-delete')) askItemDelete(row);
  else if (button.classList.contains('item-delete-keep')) closeItemConfirm(row, true);
  else if (button.classList.contains('item-delete-confirm')) deleteItem(row);
});

// ---------- add item ----------

function clearItemForm() {
  itemForm.reset();
  for (const input of Object.values(itemInputs)) setFieldError(input, '');
  setFormError(itemError, '');
}

itemForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const storeId = selectedId;
  if (storeId == null) return;
  for (const input of Object.values(itemInputs)) setFieldError(input, '');
  setFormError(itemError, '');

  const body = {};
  for (const [field, input] of Object.entries(itemInputs)) {
    const value = input.value.trim();
    if (value) body[field] = value;
  }
  if (!body.name) setFieldError(itemInputs.name, t('stores.item_name_missing'));
  if (!body.url) setFieldError(itemInputs.url, t('stores.item_url_missing'));
  const invalid = itemForm.querySelector('[aria-invalid="true"]');
  if (invalid) {
    invalid.focus();
    return;
  }
  try {
    const item = await busy(itemButton, () => api(`/api/stores/${storeId}/items`, { method: 'POST', body }));
    const store = stores.get(storeId);
    if (store) {
      stores.set(storeId, { ...store, items_count: (store.items_count ?? 0) + 1 });
      refreshCard(storeId);
    }
    if (storeId === selectedId) {
      clearItemForm();
      itemInputs.name.focus();
      await loadItems({ quiet: true });
      const row = itemRowOf(item.id);
      if (row) flash(row);
    }
    toast(t('stores.item_added', { name: item.name }), 'success');
  } catch (err) {
    if (err.status === 400) {
      showServerError(err, itemInputs, itemError)?.focus(); // under the field the message names, else the form's box
    } else {
      toast(errorMessage(err));
    }
  }
});

for (const input of Object.values(itemInputs)) {
  input.addEventListener('input', () => { if (input.value.trim()) setFieldError(input, ''); });
}

// ---------- jobs (scrapes and imports) ----------

/** "store:12" → 12, anything else → null */
function storeIdOfScope(scope) {
  const m = /^store:(\d+)$/.exec(scope || '');
  return m ? Number(m[1]) : null;
}

/**
 * Keep `job` as the latest job under `key` of `views` (a store's scrapes, the
 * catalog imports): a newer job takes the place of an older one, a later view
 * of the same job that of an earlier one. True when kept.
 */
function offerLatest(views, key, job, eventId) {
  const current = views.get(key);
  if (current && current.id > job.id) return false;
  if (current && current.id < job.id) views.delete(key);
  return views.offer(job, eventId, key);
}

/**
 * A job from a REST reply or a live event (`eventId`). `live`: it happened
 * just now, so a finish refreshes the data it changed and the final state
 * lingers briefly.
 */
function applyJob(job, live, eventId = null) {
  if (!job || job.id == null) return;
  const storeId = storeIdOfScope(job.scope);
  if (storeId != null) applyScrapeJob(storeId, jobSummary(job), live, eventId);
  if (job.kind === 'catalog_import') applyImportJob(jobSummary(job), live, eventId);
}

function applyScrapeJob(storeId, job, live, eventId) {
  const current = scrapeJobs.get(storeId);
  if (!offerLatest(scrapeJobs, storeId, job, eventId)) return;
  const wasActive = current?.id === job.id ? isJobActive(current) : !isFinal(job) || live;
  receivedAt.set(job.id, Date.now());

  if (live && wasActive && isFinal(job)) {
    lingerUntil.set(storeId, Date.now() + LINGER_MS);
    setTimeout(() => refreshCard(storeId), LINGER_MS + 50);
    reloadStoresSoon(); // items count, last scraped
    announce(job.status === 'completed' ? 'scrape_completed' : 'scrape_ended', { name: stores.get(storeId)?.name || '' });
    if (storeId === selectedId) loadItems({ quiet: true });
    reloadProductsSoon(); // cheapest prices may have changed
  }
  refreshCard(storeId);
}

function applyImportJob(job, live, eventId = null) {
  const current = imports.get(LATEST);
  if (!offerLatest(imports, LATEST, job, eventId)) return; // only the latest import is shown
  const wasActive = current?.id === job.id ? isJobActive(current) : true;
  receivedAt.set(job.id, Date.now());
  renderImport();
  if (live && wasActive && isFinal(job)) {
    reloadProductsSoon();
    if (job.status === 'completed') toast(t('stores.import_completed'), 'success');
    else if (job.status === 'failed') {
      toast(job.error_message ? t('stores.import_failed_reason', { message: job.error_message }) : t('stores.import_failed'));
    }
  }
}

function onEvent(frame) {
  applyJob(frame.data, true, frame.id);
}

// ---------- catalog import ----------

function renderImport() {
  const job = imports.get(LATEST);
  if (!job) {
    importStatus.replaceChildren();
    return;
  }
  let box = importStatus.querySelector('.import-job');
  if (!box || box.dataset.jobId !== String(job.id)) {
    box = el('div', { class: 'import-job', id: 'import-progress' },
      el('div', { class: 'import-job-head' }),
      jobProgress(job),
      el('div', { class: 'import-job-meta', 'aria-live': 'off' }),
      el('p', { class: 'import-job-error', hidden: true }));
    importStatus.replaceChildren(box);
  }
  box.dataset.jobId = job.id;
  box.dataset.status = job.status;
  const running = isJobActive(job);
  const head = box.querySelector('.import-job-head');
  const headKey = `${job.status}|${job.name}`;
  if (head.dataset.key !== headKey) { // rebuilt on status changes only: screen readers hear those
    head.dataset.key = headKey;
    head.replaceChildren(
      el('span', { class: 'label' }, t(running ? 'stores.import_running' : 'stores.last_import')),
      statusBadge(job.status),
      el('span', { class: 'import-name' }, job.name || t('jobs.job_number', { id: String(job.id) })));
  }
  updateJobProgress(box.querySelector('.job-progress'), job);
  setChildren(box.querySelector('.import-job-meta'),
    el('span', {}, t('stores.failed'), ' ', failedCount(job)),
    el('span', {}, t('stores.duration'), ' ', el('span', { class: 'import-duration' },
      formatDuration(jobElapsed(job, receivedAt.get(job.id))))),
    el('span', {}, t(job.started_at ? 'stores.started_at' : 'task.created'), ' ', timeAgo(job.started_at || job.created_at)),
    job.message ? el('span', { class: 'import-message' }, job.message) : null);
  const error = box.querySelector('.import-job-error');
  error.textContent = job.error_message || '';
  error.hidden = !job.error_message;
}

function showImportWarning(message) {
  clearImportWarning();
  // The icon and the × are drawn by CSS, so the box's text is just the warning.
  const close = el('button', { type: 'button', class: 'toast-close warning-close', 'aria-label': t('stores.dismiss_warning') });
  const box = el('div', { id: 'import-warning', class: 'warning-box', role: 'alert' },
    el('span', { class: 'warning-icon', 'aria-hidden': 'true' }),
    el('div', { class: 'warning-body' },
      el('strong', { class: 'warning-title' }, t('stores.import_not_started')),
      el('span', { class: 'warning-text' }, message)),
    close);
  const dismiss = () => {
    clearImportWarning();
    importButton.focus();
  };
  close.addEventListener('click', dismiss);
  box.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') dismiss(); });
  importStatus.before(box);
}

function clearImportWarning() {
  $('import-warning')?.remove();
}

importButton.addEventListener('click', async () => {
  const file = importFile.value;
  try {
    const job = await busy(importButton, () =>
      api('/api/imports/catalog', { method: 'POST', body: file ? { file } : {} }));
    clearImportWarning();
    applyImportJob(jobSummary(job), true);
    toast(t('stores.import_started'), 'info');
  } catch (err) {
    if (err.status === 409 || err.code === 'already_running') {
      showImportWarning(errorMessage(err));
      // make sure the running import is on screen
      api('/api/jobs?kind=catalog_import&status=pending,running&limit=1')
        .then((res) => { for (const j of res?.items || []) applyImportJob(j, false); })
        .catch(() => {});
    } else {
      toast(t('stores.import_start_failed', { message: errorMessage(err) }));
    }
  }
});

async function loadFiles() {
  try {
    const files = await api('/api/imports/catalog/files');
    const list = Array.isArray(files) ? files : [];
    if (list.length) {
      importFile.replaceChildren(...list.map((f) => el('option', { value: f }, f)));
    } else {
      importFile.replaceChildren(el('option', { value: '' }, t('stores.default_file_none')));
    }
  } catch (err) {
    importFile.replaceChildren(el('option', { value: '' }, t('stores.default_file')));
    toast(t('stores.files_failed', { message: errorMessage(err) }));
  }
  importFile.disabled = false;
}

async function loadLatestImport() {
  const res = await api('/api/jobs?kind=catalog_import&limit=1');
  for (const job of res?.items || []) applyImportJob(jobSummary(job), false);
}

// ---------- products ----------

function buildProductRow(p) {
  const c = p.cheapest;
  return el('tr', { class: 'product-row', dataset: { productId: p.id } },
    el('td', { 'data-label': t('stores.sku') }, el('span', { class: 'product-sku' }, p.sku || '—')),
    el('td', { class: 'cell-main' }, el('button', {
      type: 'button', class: 'product-open', title: t('product.open_title'),
      'aria-controls': 'product-panel',
    }, el('span', { class: 'product-name' }, p.name))),
    el('td', { 'data-label': t('stores.category') }, p.category || '—'),
    el('td', { class: 'num', 'data-label': t('stores.catalog_price') }, formatMoney(p.price, p.currency)),
    el('td', { class: 'num', 'data-label': t('stores.stock') },
      el('span', { class: p.stock === 0 ? 'stock-zero' : null }, formatNumber(p.stock))),
    el('td', { class: 'num product-range', 'data-label': t('stores.store_prices_short') }, p.offers_count
      ? `${formatMoney(p.min_price, p.currency)} · ${formatMoney(p.avg_price, p.currency)} · ${formatMoney(p.max_price, p.currency)}`
      : '—'),
    el('td', { 'data-label': t('stores.cheapest'), class: 'product-cheapest' },
      c
        ? el('span', {},
          el('strong', { class: 'cheapest-price' }, formatMoney(c.price, p.currency)),
          el('span', { class: 'cheapest-store' }, c.store_name || t('stores.store_number', { id: String(c.store_id) }),
            c.scraped_at ? [' · ', timeAgo(c.scraped_at)] : null))
        : el('span', { class: 'muted' }, '—')));
}

async function loadProducts() {
  const seq = ++productsSeq;
  const search = productSearch.value.trim();
  try {
    const list = await api(`/api/products${search ? `?${new URLSearchParams({ search })}` : ''}`);
    if (seq !== productsSeq) return; // a newer search is on its way
    const all = Array.isArray(list) ? list : [];
    const shown = all.slice(0, PRODUCT_ROWS_MAX);
    productsBody.replaceChildren(...shown.map(buildProductRow));
    productsTable.hidden = !shown.length;
    productsCount.textContent = formatNumber(all.length);
    productsEmpty.classList.remove('loading');
    productsEmpty.hidden = shown.length > 0;
    productsEmpty.textContent = search ? t('stores.no_products_match', { search }) : t('stores.no_products');
    productsNote.hidden = all.length <= shown.length;
    productsNote.textContent = t('stores.products_shown', { shown: shown.length, count: all.length });
    refreshProduct();
  } catch (err) {
    if (seq !== productsSeq) return;
    productsEmpty.classList.remove('loading');
    productsEmpty.hidden = false;
    productsEmpty.textContent = t('stores.products_failed', { message: errorMessage(err) });
  }
}

const reloadProductsSoon = debounce(loadProducts, 500);
productsBody.addEventListener('click', (ev) => {
  const row = ev.target.closest('.product-open')?.closest('tr.product-row');
  if (row) openProduct(Number(row.dataset.productId));
});
productSearch.addEventListener('input', debounce(loadProducts, 250));

// ---------- snapshot + start ----------

async function loadActiveJobs() {
  const res = await api('/api/jobs?status=pending,running&limit=100');
  for (const job of res?.items || []) applyJob(job, false);
}

async function loadSnapshot() {
  await Promise.all([loadStores(), loadActiveJobs(), loadLatestImport()]);
  // The rest may fail on its own without blocking the page.
  loadFiles();
  loadProducts();
  const wanted = Number(new URLSearchParams(location.search).get('store'));
  const sorted = sortedStores();
  const first = stores.has(wanted) ? wanted : (sorted.find((st) => st.is_active) || sorted[0])?.id ?? null;
  selectedId = undefined; // force selectStore to render
  selectStore(first);
}

// Running import: its duration ticks every second.
setInterval(() => {
  const job = imports.get(LATEST);
  if (!job || job.status !== 'running') return;
  const node = importStatus.querySelector('.import-duration');
  if (node) node.textContent = formatDuration(jobElapsed(job, receivedAt.get(job.id)));
}, 1000);

// ADMIN_LIMITED goes to /my. Stores are not pushed: after a reconnect, catch up on ones added meanwhile.
startPage({ role: 'ADMIN', channels: ['jobs'], load: loadSnapshot, onEvent, onReconnect: reloadStoresSoon });
