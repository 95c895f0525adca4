// Copying a value shown on the page (an order's PIN, a new password) to the
// clipboard, with a fallback that selects the text where the Clipboard API is missing.

import { toast } from './notify.js';

/**
 * Copy the text of `node`; `button` reads `copied` for a moment, then `label`
 * again; `done` and `failed` are the toasts (the page's own words).
 */
export async function copyShown(node, button, { label, copied, done, failed }) {
  const text = node?.textContent || '';
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // No clipboard API (plain http on another host): select the text and copy that.
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { ok = document.execCommand('copy'); } catch { ok = false; }
  }
  if (ok) {
    button.textContent = copied;
    setTimeout(() => { if (button.isConnected) button.textContent = label; }, 2000);
    toast(done, 'success');
  } else {
    toast(failed, 'info');
  }
}
