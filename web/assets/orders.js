// Orders page (ADMIN and ADMIN_LIMITED): create orders and watch them live
// until the provider answers. A completed order's PIN shows the moment its
// event arrives. ADMIN sees everyone's orders and can trigger a check.

import { mountAlerts } from './alerts.js';
import { announce } from './announce.js';
import { api } from './api.js';
import { copyShown } from './clipboard.js';
import { el, insertSorted, syncEmpty, flash } from './dom.js';
import { busy, replaceKeepingFocus } from './focus.js';
import { setFieldError, setFormError, showServerError } from './forms.js';
import { statusBadge, timeAgo, timeUntil, refreshTimes, formatNumber } from './format.js';
import { NewestViews, isFinal } from './freshness.js';
import { t } from './i18n.js';
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
// The catalog keys of the message for each required field left empty.
const REQUIRED = {
  product: 'orders.product_missing',
  package: 'orders.package_missing',
  user_identifier: 'orders.user_identifier_missing',
};

const orders = new NewestViews(); // id → Order
let me = null;
let nextBefore = null;

// ---------- cards ----------

function fact(label, ...value) {
  return el('div', { class: 'order-fact' }, el('dt', {}, label), el('dd', {}, ...value));
}

function creatorName(order) {
  const name = order.created_by_name
    || (order.created_by != null ? t('common.user_number', { id: String(order.created_by) }) : t('orders.unknown'));
  return me && order.created_by === me.id ? t('orders.name_you', { name }) : name;
}

function pinBox(order) {
  const labelId = `pin-label-${order.id}`;
  return el('div', { class: 'pin-box' },
    el('span', { class: 'pin-label', id: labelId }, t('orders.pin')),
    el('code', { class: 'pin-code', 'aria-labelledby': labelId }, order.pin_code),
    el('button', {
      type: 'button', class: 'btn btn-small copy-pin', 'aria-label': t('orders.copy_label', { id: String(order.id) }),
    }, t('orders.copy')));
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
    el('span', { class: 'order-user' }, t('orders.for'), ' ', el('strong', { class: 'order-user-identifier' }, order.user_identifier)),
    me?.role === 'ADMIN' ? el('span', { class: 'order-creator' }, t('task.by', { name: creatorName(order) })) : null,
    el('span', { class: 'meta-age' }, t('task.created'), ' ', timeAgo(order.created_at)),
    el('span', { class: 'order-number' }, `#${order.id}`)),
  el('dl', { class: 'order-facts' },
    fact(t('orders.provider_ref'),
      order.provider_ref
        ? el('span', {
          class: 'provider-ref', title: order.provider ? t('orders.provider', { name: order.provider }) : null,
        }, order.provider_ref)
        : el('span', { class: 'provider-ref muted' }, final ? '—' : t('orders.not_sent'))),
    fact(t('orders.checks'),
      el('span', { class: 'check-attempts', dataset: { count: checks } }, t('orders.check_count', { count: checks }))),
    !final && order.next_check_at
      ? fact(t('orders.next_check'), el('span', { class: 'next-check' }, timeUntil(order.next_check_at)))
      : null,
    order.last_sync_at ? fact(t('orders.last_checked'), timeAgo(order.last_sync_at)) : null,
    order.completed_at ? fact(t('status.completed'), timeAgo(order.completed_at)) : null),
  order.failure_reason || order.status === 'failed'
    ? el('p', { class: 'failure-reason' },
      el('span', { class: 'label' }, t(order.status === 'cancelled' ? 'orders.cancelled_label' : 'orders.failure_label'), ' '),
      order.failure_reason || t('orders.no_reason'))
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
        type: 'button', class: 'btn btn-small check-order', 'aria-label': t('orders.check_label', { id: String(order.id) }),
      }, t('orders.check_now'))
      : null,
    el('button', {
      type: 'button', class: 'btn btn-small btn-danger-outline cancel-order',
      'aria-label': t('orders.cancel_label', { id: String(order.id) }),
    }, t('common.cancel')));
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
  count.textContent = formatNumber(list.querySelectorAll(':scope > .order-card').length);
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

const notify = mountAlerts(document.getElementById('alert-controls'), 'orders', t('alerts.when_pin'));

function onEvent(frame) {
  const order = frame.data;
  const hadPin = !!orders.get(order?.id)?.pin_code;
  if (frame.event === 'order.completed' && order.pin_code) {
    const id = String(order.id);
    notify(t('alerts.pin_title', { id }), t('announce.pin', { id }), `order-${order.id}`);
  }
  upsert(order, frame.event === 'order.created' ? 'is-new' : 'is-updated', frame.id);
  if (order?.pin_code && !hadPin) announce('pin', { id: String(order.id) });
  else if (frame.event === 'order.failed') announce('order_failed', { id: String(order.id) });
}

moreButton.addEventListener('click', async () => {
  try {
    await busy(moreButton, () => loadPage(true));
  } catch (err) {
    toast(t('orders.more_failed', { message: errorMessage(err) }));
  }
});

// ---------- card actions ----------

function copyPin(card, button) {
  return copyShown(card.querySelector('.pin-code'), button, {
    label: t('orders.copy'), copied: t('orders.copied'), done: t('orders.pin_copied'), failed: t('orders.copy_failed'),
  });
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
  if (!window.confirm(t('orders.cancel_confirm', { id }))) return;
  orderAction(card, button, 'cancel', () => toast(t('orders.cancelled_toast', { id }), 'success'));
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
  for (const [field, key] of Object.entries(REQUIRED)) {
    if (!inputs[field].value.trim()) setFieldError(inputs[field], t(key));
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
    toast(t('orders.created'), 'success');
  } catch (err) {
    if (err.status === 400) {
      // The message names the field: show it under that input (else in the form's box).
      showServerError(err, inputs, formError)?.focus();
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
  $('orders-heading-text').textContent = t(me.role === 'ADMIN' ? 'orders.all' : 'orders.yours');
  // "next check in 2m" counts down; ages stay fresh.
  setInterval(() => refreshTimes(list), 5000);
}

startPage({ role: ['ADMIN', 'ADMIN_LIMITED'], setup, channels: ['orders'], load: () => loadPage(), onEvent });
