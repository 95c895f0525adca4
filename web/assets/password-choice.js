// How an ADMIN sets someone's password on the users page: typed twice, or
// generated here in the browser (crypto.getRandomValues) and shown once.

import { el } from './dom.js';
import { setFieldError } from './forms.js';
import { t } from './i18n.js';

// Letters and digits without the look-alikes 0/O, 1/l/I: easy to read out and type.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const GENERATED_LENGTH = 16; // ≈ 93 bits
const MIN_LENGTH = 8;        // the server's rule
const MAX_LENGTH = 256;

/** A random password from ALPHABET, without modulo bias. */
export function generatePassword(length = GENERATED_LENGTH) {
  const limit = 256 - (256 % ALPHABET.length);
  const out = [];
  const bytes = new Uint8Array(length * 2);
  while (out.length < length) {
    crypto.getRandomValues(bytes);
    for (const b of bytes) {
      if (b < limit && out.length < length) out.push(ALPHABET[b % ALPHABET.length]);
    }
  }
  return out.join('');
}

function passwordField(id, label) {
  return el('div', { class: 'field' },
    el('label', { for: id }, label),
    el('input', {
      id, type: 'password', maxlength: MAX_LENGTH, autocomplete: 'new-password', 'aria-describedby': `${id}-error`,
    }),
    el('p', { id: `${id}-error`, class: 'field-error', hidden: true }));
}

/**
 * The choice "Generate one" / "Type a password", with the two inputs shown for
 * the second. `prefix` keeps ids unique (`{prefix}-password`, `{prefix}-password-repeat`).
 * Returns { node, read, reset, focus }: read() gives { password, generated }, or
 * null after showing the problem under the input it is about.
 */
export function passwordChoice(prefix) {
  const name = `${prefix}-password-mode`;
  const radio = (value, label, checked) => el('label', { class: 'check-label' },
    el('input', { type: 'radio', name, value, id: `${prefix}-password-${value}`, checked }), label);
  const typed = el('div', { class: 'password-typed stack', hidden: true },
    passwordField(`${prefix}-password`, t('users.password_min', { count: MIN_LENGTH })),
    passwordField(`${prefix}-password-repeat`, t('users.password_repeat')));
  const node = el('fieldset', { class: 'password-choice' },
    el('legend', {}, t('users.password')),
    el('div', { class: 'password-modes' },
      radio('generate', t('users.password_generate'), true),
      radio('type', t('users.password_type'), false)),
    typed);
  const first = typed.querySelector(`#${prefix}-password`);
  const repeat = typed.querySelector(`#${prefix}-password-repeat`);
  const mode = () => node.querySelector(`input[name="${name}"]:checked`)?.value;
  const sync = () => {
    typed.hidden = mode() !== 'type';
    if (typed.hidden) for (const input of [first, repeat]) setFieldError(input, '');
  };
  node.addEventListener('change', sync);
  for (const input of [first, repeat]) input.addEventListener('input', () => setFieldError(input, ''));

  return {
    node,
    /** The password `first` input, for the server's messages about `password`. */
    input: first,
    read() {
      if (mode() !== 'type') return { password: generatePassword(), generated: true };
      const password = first.value;
      if (password.length < MIN_LENGTH) {
        setFieldError(first, t('users.password_too_short', { count: MIN_LENGTH }));
        first.focus();
        return null;
      }
      if (password !== repeat.value) {
        setFieldError(repeat, t('users.password_differ'));
        repeat.focus();
        return null;
      }
      return { password, generated: false };
    },
    reset() {
      first.value = '';
      repeat.value = '';
      node.querySelector(`#${prefix}-password-generate`).checked = true;
      sync();
    },
  };
}
