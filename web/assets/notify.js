// Toasts: short messages in a corner (errors stay a little longer), and the
// text an error shows the user: the page's own words for a known error code,
// the server's (English) message otherwise.

import { el } from './dom.js';
import { t, has } from './i18n.js';

function toastRegion() {
  let region = document.getElementById('toasts');
  if (!region) {
    region = el('div', { id: 'toasts', class: 'toasts', 'aria-live': 'polite' });
    document.body.append(region);
  }
  return region;
}

/** toast('Could not approve: …', 'error' | 'info' | 'success') */
export function toast(message, kind = 'error') {
  const close = el('button', { type: 'button', class: 'toast-close', 'aria-label': t('common.dismiss') }, '×');
  const node = el('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('span', { class: 'toast-msg' }, message), close);
  const remove = () => node.remove();
  close.addEventListener('click', remove);
  toastRegion().append(node);
  setTimeout(remove, kind === 'error' ? 8000 : 4000);
}

/**
 * What to tell the user about `err` (an ApiError or any Error): the catalog's
 * `error.{code}` when there is one (it may quote the server's `{message}`),
 * else the server's message.
 */
export function errorMessage(err) {
  const message = (err && err.message) || t('error.unknown');
  const code = err && err.code;
  return code && has(`error.${code}`) ? t(`error.${code}`, { message }) : message;
}
