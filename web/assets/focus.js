// Keeping keyboard focus in place while the pages re-render: buttons that are
// busy for a moment, task cards rebuilt by a live event, nodes swapped for new ones.

// Controls inside a task card that get focus back after the card re-renders.
const FOCUS_CLASSES = ['complete-subtask', 'approve-task', 'reject-task', 'reject-reason', 'confirm-reject', 'cancel-reject'];

/** Whether keyboard focus was dropped (to <body>, e.g. by disabling the focused button). */
export const focusLost = () => !document.activeElement || document.activeElement === document.body;

/** Give focus to `node` (if it is on the page) when focus was lost, e.g. to <body> by disabling the focused button. */
export function refocusIfLost(node, options) {
  if (node?.isConnected && focusLost()) node.focus(options);
}

/** Disable a button (or an array of buttons) while `work()` runs. */
export async function busy(buttons, work) {
  const list = (Array.isArray(buttons) ? buttons : [buttons]).filter(Boolean);
  // Disabling the focused button drops focus to <body>; remember where it was.
  const focused = list.find((b) => b === document.activeElement);
  const card = focused?.closest('.task-card');
  if (card) card.dataset.refocus = FOCUS_CLASSES.find((c) => focused.classList.contains(c)) || '';
  for (const b of list) { b.disabled = true; b.setAttribute('aria-busy', 'true'); }
  try {
    return await work();
  } finally {
    // The card may have been re-rendered meanwhile; resetting detached buttons is harmless.
    for (const b of list) { b.disabled = false; b.removeAttribute('aria-busy'); }
    if (card?.isConnected) delete card.dataset.refocus;
    refocusIfLost(focused);
  }
}

/**
 * Before a card is re-rendered: remember whether focus was inside it.
 * Returns restore(newCard), which puts focus back on the matching control,
 * or on the card itself, so keyboard users don't lose their place.
 */
export function captureFocus(oldCard) {
  if (!oldCard) return () => {};
  const active = document.activeElement;
  let cls;
  if (active && oldCard.contains(active)) cls = FOCUS_CLASSES.find((c) => active.classList.contains(c));
  else if ('refocus' in oldCard.dataset && focusLost()) cls = oldCard.dataset.refocus; // see busy()
  else return () => {};
  return (newCard) => {
    let target = cls && newCard.querySelector(`.${cls}:not(:disabled)`);
    if (!target) {
      newCard.tabIndex = -1;
      target = newCard;
    }
    target.focus({ preventScroll: true });
  };
}

/**
 * Swap `oldNode` for `newNode`; if focus was on a control with one of the
 * `hooks` classes inside it, focus the same control in the new node.
 */
export function replaceKeepingFocus(oldNode, newNode, hooks = []) {
  const active = document.activeElement;
  const hook = active && oldNode.contains(active) ? hooks.find((c) => active.classList.contains(c)) : null;
  oldNode.replaceWith(newNode);
  if (hook) newNode.querySelector(`.${hook}:not(:disabled)`)?.focus({ preventScroll: true });
}
