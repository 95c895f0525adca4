// Safe DOM building: elements, text and lists of cards. Data only ever goes
// in via textContent / attributes, never innerHTML.

/** el('div', {class: 'x', dataset: {id: 1}, onclick: fn}, child, 'text', ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

/** Set text only when it differs, so live regions don't re-announce unchanged text. */
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

/** node.replaceChildren(...) that skips null/false and flattens arrays, like el(). */
export function setChildren(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Only http(s) links become <a href>; anything else (javascript: …) stays text. */
export function safeHttpUrl(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** Insert `card` into `list` keeping descending order of data-sort. */
export function insertSorted(list, card, sortKey, selector = '.task-card') {
  card.dataset.sort = sortKey;
  for (const other of list.querySelectorAll(`:scope > ${selector}`)) {
    if (other !== card && Number(other.dataset.sort) < sortKey) {
      list.insertBefore(card, other);
      return;
    }
  }
  list.append(card);
}

/** Show the list's data-empty message when it has no cards. */
export function syncEmpty(list, selector = '.task-card') {
  const hasCards = !!list.querySelector(`:scope > ${selector}`);
  let empty = list.querySelector(':scope > .empty');
  if (hasCards && empty) empty.remove();
  if (!hasCards) {
    if (!empty) {
      empty = el('p', { class: 'empty' });
      list.append(empty);
    }
    empty.classList.remove('loading');
    // With filters on (data-filtered), say that nothing matches rather than that nothing exists.
    empty.textContent = (list.dataset.filtered && list.dataset.emptyFiltered) || list.dataset.empty || 'Nothing here yet';
  }
}

/** Briefly highlight a card (CSS animation). */
export function flash(card, cls = 'is-new') {
  card.classList.add(cls);
  setTimeout(() => card.classList.remove(cls), 2600);
}
