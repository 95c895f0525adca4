// Orders page (ADMIN and ADMIN_LIMITED): create orders and watch them live
// until the provider answers. A completed order's PIN shows the moment its
// event arrives. ADMIN sees everyone's orders and can trigger a check.

import { mountAlerts } from './alerts.js';
import { api } from './api.js';
import { el, insertSorted, syncEmpty, flash } from './dom.js';
import { busy, replaceKeepingFocus } from './focus.js';
import { fieldForMessage, setFieldError, setFormError } from './forms.js';
import { statusBadge, timeAgo, timeUntil, refreshTimes, plural } from './format.js';
import { NewestViews, isFinal } from './freshness.js';
import { toast, errorMessage } from './notify.js';
import { startPage } from './page.js';

const PAGE_SIZE = 100;
const FOCUS_HOOKS = ['check-order', 'cancel-order', 'copy-pin'];

const $ = (id) => document.getElementById(id);
const list = $('orders-list');
const count = $('orders-count');
const moreButton = $('orders-more');
const form = $('create-order-form');
const submitButton = $('create-order-button');
const formError = $('create-order-error');
const inputs = {
  product: $('order-product'),
  package: $('order-package'),
  user_identifier: $('order-user-identifier'),
  extra_field: $('order-extra'),
};
const REQUIRED = {
  product: 'Please enter the product.',
  package: 'Please enter the package.',
  user_identifier: 'Please enter the user identifier.',
};

const orders = new NewestViews(); // id → Order
let me = null;
let nextBefore = null;

// ---------- cards ----------

function fact(label, ...value) {
  return el('div', { class: 'order-fact' }, el('dt', {}, label), el('dd', {}, ...value));
}

function creatorName(order) {
  const name = order.created_by_name || (order.created_by != null ? `user #${order.created_by}` : 'unknown');
  return me && order.created_by === me.id ? `${name} (you)` : name;
}

function pinBox(order) {
  const labelId = `pin-label-${order.id}`;
  return el('div', { class: 'pin-box' },
    el('span', { class: 'pin-label', id: labelId }, 'PIN code'),
    el('code', { class: 'pin-code', 'aria-labelledby': labelId }, order.pin_code),
    el('button', {
      type: 'button', class: 'btn btn-small copy-pin', 'aria-label': `Copy the PIN of order ${order.id}`,
    }, 'Copy'));
}

function buildCard(order) {
  const final = isFinal(order);
  const titleId = `order-title-${order.id}`;
  const checks = order.check_attempts ?? 0;
  return el('article', {
    class: 'order-card', dataset: { orderId: order.id, status: order.status }, 'aria-labelledby': titleId,
  },
  el('header', { class: 'task-head' },
    el('h3', { class: 'order-title', id: titleId },
      el('span', { class: 'order-product' }, order.product),
      el('span', { class: 'order-package' }, ` · ${order.package}`)),
    statusBadge(order.status, 'order-badge')),
  el('p', { class: 'task-meta' },
    el('span', { class: 'order-user' }, 'for ', el('strong', { class: 'order-user-identifier' }, order.user_identifier)),
    me?.role === 'ADMIN' ? el('span', { class: 'order-creator' }, 'by ', creatorName(order)) : null,
    el('span', { class: 'meta-age' }, 'created ', timeAgo(order.created_at)),
    el('span', { class: 'order-number' }, `#${order.id}`)),
  el('dl', { class: 'order-facts' },
    fact('Provider ref',
      order.provider_ref
        ? el('span', { class: 'provider-ref', title: order.provider ? `Provider: ${order.provider}` : null }, order.provider_ref)
        : el('span', { class: 'provider-ref muted' }, final ? '—' : 'not sent yet')),
    fact('Checks', el('span', { class: 'check-attempts', dataset: { count: checks } }, plural(checks, 'check'))),
    !final && order.next_check_at
      ? fact('Next check', el('span', { class: 'next-check' }, 'next check ', timeUntil(order.next_check_at)))
      : null,
    order.last_sync_at ? fact('Last checked', timeAgo(order.last_sync_at)) : null,
    order.completed_at ? fact('Completed', timeAgo(order.completed_at)) : null),
  order.failure_reason || order.status === 'failed'
    ? el('p', { class: 'failure-reason' },
      el('span', { class: 'label' }, order.status === 'cancelled' ? 'Cancelled: ' : 'Failure: '),
      order.failure_reason || 'No reason given.')
    : null,
  order.pin_code ? pinBox(order) : null,
  final ? null : actionButtons(order));
}

/** "Check now" for ADMINs; "Cancel" for the owner and ADMINs, while the order is not final. */
function actionButtons(order) {
  const isAdmin = me?.role === 'ADMIN';
  const owns = me?.id === order.created_by;
  if (!isAdmin && !owns) return null;
  return el('div', { class: 'task-actions' },
    isAdmin
      ? el('button', {
        type: 'button', class: 'btn btn-small check-order', 'aria-label': `Check order ${order.id} now`,
      }, 'Check now')
      : null,
    el('button', {
      type: 'button', class: 'btn btn-small btn-danger-outline cancel-order', 'aria-label': `Cancel order ${order.id}`,
    }, 'Cancel'));
}

const cardOf = (id) => list.querySelector(`.order-card[data-order-id="${CSS.escape(String(id))}"]`);

function render(order, highlight) {
  const old = cardOf(order.id);
  const card = buildCard(order);
  card.dataset.sort = order.id;
  if (old) replaceKeepingFocus(old, card, FOCUS_HOOKS); // same id: same place
  else insertSorted(list, card, order.id, '.order-card'); // newest first
  if (highlight) flash(card, highlight);
  updateCounts();
}

function updateCounts() {
  list.querySelector(':scope > .empty.loading')?.remove();
  syncEmpty(list, '.order-card');
  count.textContent = list.querySelectorAll(':scope > .order-card').length;
  moreButton.hidden = nextBefore == null;
}

/** Apply an order from a REST reply or an event (`eventId`). Idempotent; stale copies are ignored. */
function upsert(order, highlight, eventId = null) {
  if (orders.offer(order, eventId)) render(order, highlight);
}

// ---------- snapshot + live ----------

async function loadPage(older = false) {
  const q = new URLSearchParams({ limit: PAGE_SIZE });
  if (older && nextBefore != null) q.set('before', nextBefore);
  const res = await api(`/api/orders?${q}`);
  nextBefore = res?.next_before ?? null;
  if (!older) {
    orders.clear();
    list.replaceChildren();
  }
  for (const order of res?.items || []) upsert(order);
  updateCounts();
}

const notify = mountAlerts(document.getElementById('alert-controls'), 'orders', 'when a PIN arrives');

function onEvent(frame) {
  const order = frame.data;
  if (frame.event === 'order.completed' && order.pin_code) {
    notify(`PIN for order ${order.id}`, `The PIN of order ${order.id} has arrived.`, `order-${order.id}`);
  }
  upsert(order, frame.event === 'order.created' ? 'is-new' : 'is-updated', frame.id);
}

moreButton.addEventListener('click', async () => {
  try {
    await busy(moreButton, () => loadPage(true));
  } catch (err) {
    toast(`Could not load older orders: ${errorMessage(err)}`);
  }
});

// ---------- card actions ----------

async function copyPin(card, button) {
  const code = card.querySelector('.pin-code');
  const text = code?.textContent || '';
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // No clipboard API (plain http on another host): select the text and copy that.
    const range = document.createRange();
    range.selectNodeContents(code);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { ok = document.execCommand('copy'); } catch { ok = false; }
  }
  if (ok) {
    button.textContent = 'Copied ✓';
    setTimeout(() => { if (button.isConnected) button.textContent = 'Copy'; }, 2000);
    toast('PIN copied to the clipboard.', 'success');
  } else {
    toast('Could not copy automatically. The PIN is selected: press Ctrl+C (⌘C) to copy it.', 'info');
  }
}

/** POSTs an order action (`check`, `cancel`) and shows the answer; a 404/409 reloads the order's real state. */
async function orderAction(card, button, action, done) {
  const id = card.dataset.orderId;
  try {
    const order = await busy(button, () => api(`/api/orders/${id}/${action}`, { method: 'POST', body: {} }));
    upsert(order, 'is-updated');
    done?.(id);
  } catch (err) {
    toast(errorMessage(err));
    if (err.status === 409 || err.status === 404) {
      api(`/api/orders/${id}`).then((o) => upsert(o)).catch(() => {});
    }
  }
}

function cancelOrder(card, button) {
  const id = card.dataset.orderId;
  if (!window.confirm(`Cancel order #${id}? The provider is asked to cancel it, and it is not checked again.`)) return;
  orderAction(card, button, 'cancel', () => toast(`Order #${id} cancelled.`, 'success'));
}

list.addEventListener('click', (ev) => {
  const button = ev.target.closest('button');
  const card = button?.closest('.order-card');
  if (!card) return;
  if (button.classList.contains('copy-pin')) copyPin(card, button);
  else if (button.classList.contains('check-order')) orderAction(card, button, 'check');
  else if (button.classList.contains('cancel-order')) cancelOrder(card, button);
});

// ---------- create form ----------

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  setFormError(formError, '');
  for (const input of Object.values(inputs)) setFieldError(input, '');
  for (const [field, message] of Object.entries(REQUIRED)) {
    if (!inputs[field].value.trim()) setFieldError(inputs[field], message);
  }
  const invalid = form.querySelector('[aria-invalid="true"]');
  if (invalid) {
    invalid.focus();
    return;
  }
  const body = {
    product: inputs.product.value.trim(),
    package: inputs.package.value.trim(),
    user_identifier: inputs.user_identifier.value.trim(),
  };
  const extra = inputs.extra_field.value.trim();
  if (extra) body.extra_field = extra;
  try {
    const order = await busy(submitButton, () => api('/api/orders', { method: 'POST', body }));
    upsert(order, 'is-new');
    form.reset();
    inputs.product.focus();
    toast('Order created. Its status updates here live.', 'success');
  } catch (err) {
    if (err.status === 400) {
      // The message names the field: show it under that input.
      const input = fieldForMessage(err.message, inputs);
      if (input) {
        setFieldError(input, errorMessage(err));
        input.focus();
      } else {
        setFormError(formError, errorMessage(err));
      }
    } else {
      toast(errorMessage(err));
    }
  }
});

for (const input of Object.values(inputs)) {
  input.addEventListener('input', () => { if (input.value.trim()) setFieldError(input, ''); });
}

// ---------- start ----------

function setup(user) {
  me = user;
  $('orders-heading-text').textContent = me.role === 'ADMIN' ? 'All orders' : 'Your orders';
  // "next check in 2m" counts down; ages stay fresh.
  setInterval(() => refreshTimes(list), 5000);
}

startPage({ role: ['ADMIN', 'ADMIN_LIMITED'], setup, channels: ['orders'], load: () => loadPage(), onEvent });
