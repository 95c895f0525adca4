// Login page: sign in, then go to the page for the user's role.

import { api } from './api.js';
import { t } from './i18n.js';
import { errorMessage } from './notify.js';
import { homeFor } from './page.js';

const form = document.getElementById('login-form');
const username = document.getElementById('username');
const password = document.getElementById('password');
const button = document.getElementById('login-button');
const errorBox = document.getElementById('login-error');

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

// Already signed in (possibly after a silent refresh)? Skip the form.
api('/api/me', { redirectOnAuthFailure: false })
  .then((user) => { if (user && user.role) location.replace(homeFor(user.role)); })
  .catch(() => {});

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError('');
  const body = { username: username.value.trim(), password: password.value };
  if (!body.username || !body.password) {
    showError(t('login.missing'));
    (body.username ? password : username).focus();
    return;
  }
  button.disabled = true;
  button.textContent = t('login.signing_in');
  try {
    const res = await api('/api/auth/login', { method: 'POST', body, redirectOnAuthFailure: false });
    location.replace(homeFor(res.user.role));
  } catch (err) {
    showError(err.status === 401 ? t('login.failed', { message: err.message }) : errorMessage(err));
    password.select();
    password.focus();
    button.disabled = false;
    button.textContent = t('login.submit');
  }
});
