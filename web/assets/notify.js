// Toasts: short messages in a corner (errors stay a little longer), and the
// text an error shows the user.

import { el } from './dom.js';

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
  const close = el('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, '×');
  const node = el('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    el('span', { class: 'toast-msg' }, message), close);
  const remove = () => node.remove();
  close.addEventListener('click', remove);
  toastRegion().append(node);
  setTimeout(remove, kind === 'error' ? 8000 : 4000);
}

export function errorMessage(err) {
  return (err && err.message) || 'Something went wrong.';
}
