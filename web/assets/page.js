// What every signed-in page does the same way: check who is signed in, fill
// the header and navigation, wire the logout button, and follow the live
// channels with the page's snapshot loaded on the first connection.

import { api, goToLogin } from './api.js';
import { el } from './dom.js';
import { t } from './i18n.js';
import './lang-switch.js';
import { LiveClient } from './live.js';
import { toast, errorMessage } from './notify.js';

export const homeFor = (role) => (role === 'ADMIN' ? '/admin' : '/my');

/**
 * GET /api/me; redirects to the login page or to the page for the user's role.
 * `role` is one role or an array of the roles the page allows.
 */
async function requireUser(role) {
  const allowed = Array.isArray(role) ? role : [role];
  let user;
  try {
    user = await api('/api/me');
  } catch (err) {
    if (err.status === 401) goToLogin();
    throw err;
  }
  if (!allowed.includes(user.role)) {
    location.replace(homeFor(user.role));
    throw new Error('redirecting');
  }
  return user;
}

/** Fill the static header with the user's name and role. */
function setupHeader(user) {
  const name = document.getElementById('user-name');
  const role = document.getElementById('user-role');
  if (name) name.textContent = user.username;
  if (role) role.textContent = t(user.role === 'ADMIN' ? 'role.admin' : 'role.limited');
  const brand = document.querySelector('.topbar .brand');
  if (brand) brand.setAttribute('href', homeFor(user.role));
  renderNav(user);
}

// The pages each role may open, in header order, with the catalog keys of their names.
const NAV_LINKS = {
  ADMIN: [
    ['/admin', 'page.admin'], ['/jobs', 'page.jobs'], ['/stores', 'page.stores'], ['/orders', 'page.orders'],
    ['/users', 'page.users'], ['/workflows', 'page.workflows'],
  ],
  ADMIN_LIMITED: [['/my', 'page.my'], ['/orders', 'page.orders']],
};

/** Fill <nav id="site-nav"> with the role's pages; the current one gets aria-current="page". */
function renderNav(user) {
  let nav = document.getElementById('site-nav');
  if (!nav) {
    const title = document.querySelector('.topbar .page-title');
    if (!title) return;
    nav = el('nav', { id: 'site-nav', class: 'site-nav', 'aria-label': t('topbar.nav') });
    title.after(nav);
  }
  const links = NAV_LINKS[user.role] || [];
  const here = location.pathname.replace(/\/+$/, '') || '/';
  nav.replaceChildren(el('ul', { class: 'nav-list' }, links.map(([href, label]) => {
    const current = href === here;
    return el('li', {},
      el('a', {
        href, class: `nav-link${current ? ' is-current' : ''}`, 'aria-current': current ? 'page' : null,
      }, t(label)));
  })));
  nav.hidden = !links.length;
}

// The logout button works from the first moment, even before /api/me answers.
const logoutButton = document.getElementById('logout-button');
logoutButton?.addEventListener('click', async () => {
  logoutButton.disabled = true;
  try {
    await api('/api/auth/logout', { method: 'POST', body: {} });
  } catch { /* going to the login page either way */ }
  location.replace('/');
});

/**
 * Start a signed-in page:
 * - role: the role, or array of roles, the page is for; anyone else is sent
 *   to the login page or to their own page;
 * - setup(me): optional, awaited once the user is known and the header is
 *   filled, before going live (data the snapshot needs, URL filters, timers);
 * - channels: the live channels the page follows;
 * - load(me): the page's snapshot, loaded on the first connection; events
 *   after it are then replayed, and later connections resume from the last one;
 * - onEvent(frame): each live event of those channels that carries data, in id order;
 * - onReconnect(): optional, on every later connection (for what is not pushed).
 * Errors of the live connection and of the snapshot show as toasts.
 */
export async function startPage({ role, setup, channels, load, onEvent, onReconnect }) {
  let me;
  try {
    me = await requireUser(role);
  } catch (err) {
    if (err.status === 0) toast(errorMessage(err)); // otherwise it is on its way to another page
    return;
  }
  setupHeader(me);
  if (setup) await setup(me);

  new LiveClient({
    channels,
    async onReady(_user, _lastEventId, isFirst) {
      if (isFirst) await load(me);
      else onReconnect?.();
    },
    onEvent: (frame) => { if (channels.includes(frame.channel) && frame.data) onEvent(frame); },
    onError: (message) => toast(message),
  }).start();
}
