// The product panel of the stores page: a product's price figures across active
// stores, every store's current price, and a price-history chart per store.

import { api } from './api.js';
import { lineChart, SERIES_COLOURS } from './chart.js';
import { el, setChildren, safeHttpUrl } from './dom.js';
import { timeAgo, formatMoney } from './format.js';
import { t } from './i18n.js';
import { errorMessage } from './notify.js';

const panel = document.getElementById('product-panel');
const heading = document.getElementById('product-panel-heading');
const body = document.getElementById('product-panel-body');
let openId = null;
let seq = 0;

/** Shows product `id` (or refreshes it when it is already open). */
export async function openProduct(id) {
  const mine = ++seq;
  if (openId !== id) {
    openId = id;
    panel.hidden = false;
    panel.dataset.productId = id;
    delete panel.dataset.loaded;
    heading.textContent = t('common.loading');
    setChildren(body, el('p', { class: 'muted' }, t('product.loading_prices')));
    panel.scrollIntoView({ block: 'nearest' });
  }
  try {
    const product = await api(`/api/products/${id}`);
    if (mine !== seq || openId !== id) return;
    render(product);
  } catch (err) {
    if (mine !== seq) return;
    setChildren(body, el('p', { class: 'item-error' }, t('product.load_failed', { message: errorMessage(err) })));
  }
}

/** Reloads the open product (after a scrape changed prices). */
export function refreshProduct() {
  if (openId != null) openProduct(openId);
}

function closeProduct() {
  openId = null;
  seq++;
  panel.hidden = true;
}

document.getElementById('product-panel-close').addEventListener('click', closeProduct);

function render(p) {
  const money = (v) => formatMoney(v, p.currency);
  heading.textContent = `${p.name} · ${p.sku}`;
  panel.dataset.loaded = 'true';
  const figures = el('dl', { class: 'price-figures' },
    fact(t('product.lowest'), 'figure-min', money(p.min_price)),
    fact(t('product.average'), 'figure-avg', money(p.avg_price)),
    fact(t('product.highest'), 'figure-max', money(p.max_price)),
    fact(t('product.cheapest_at'), 'figure-cheapest', p.cheapest ? p.cheapest.store_name : '—'),
    fact(t('stores.catalog_price'), 'figure-catalog', money(p.price)));
  if (!p.offers.length) {
    setChildren(body, figures,
      el('p', { class: 'empty' }, t('product.no_offers')));
    return;
  }
  const rows = p.offers.map((o, i) => el('tr', { class: 'offer-row', dataset: { storeId: o.store_id, cheapest: String(o.cheapest) } },
    el('th', { scope: 'row', class: 'cell-main' },
      el('span', { class: `series-key series-${i % SERIES_COLOURS}`, 'aria-hidden': 'true' }),
      o.store_name, o.cheapest ? el('span', { class: 'badge badge-completed cheapest-badge' }, t('product.cheapest')) : null),
    el('td', { class: 'num offer-price', 'data-label': t('stores.price') }, money(o.price)),
    el('td', { 'data-label': t('stores.in_stock') }, o.in_stock == null ? '—' : t(o.in_stock ? 'product.yes' : 'product.no')),
    el('td', { 'data-label': t('product.read') }, o.scraped_at ? timeAgo(o.scraped_at) : '—'),
    el('td', { 'data-label': t('stores.item') }, safeHttpUrl(o.url)
      ? el('a', { href: safeHttpUrl(o.url), target: '_blank', rel: 'noopener noreferrer' }, o.item_name)
      : o.item_name)));
  const table = el('div', { class: 'table-wrap' }, el('table', { class: 'data-table offers-table' },
    el('caption', { class: 'sr-only' }, t('product.offers_caption')),
    el('thead', {}, el('tr', {},
      el('th', { scope: 'col' }, t('product.store')), el('th', { scope: 'col', class: 'num' }, t('stores.price')),
      el('th', { scope: 'col' }, t('stores.in_stock')), el('th', { scope: 'col' }, t('product.read')),
      el('th', { scope: 'col' }, t('stores.item')))),
    el('tbody', {}, rows)));
  const series = p.offers
    .map((o) => ({ label: o.store_name, points: o.history.map((h) => ({ at: h.scraped_at, value: h.price })) }));
  const withPoints = series.filter((s) => s.points.length);
  const chart = withPoints.length
    ? el('figure', { class: 'price-chart' },
      lineChart(series, { label: t('product.chart_label', { name: p.name, count: withPoints.length }), format: money }),
      el('figcaption', { class: 'muted' }, t('product.chart_caption')))
    : el('p', { class: 'muted' }, t('product.no_history'));
  setChildren(body, figures, table, chart);
}

function fact(label, cls, value) {
  return el('div', { class: cls }, el('dt', {}, label), el('dd', {}, value));
}
