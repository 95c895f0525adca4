// Form errors: the message under an input or in a form's error box, and
// which input a server's validation message is about.

import { errorMessage } from './notify.js';

/**
 * Which of `fields` ({name: input}) a server message such as
 * "user_identifier must not be empty" is about: the field named earliest in
 * the message ("user_identifier" also matches "user identifier"). null if none.
 */
export function fieldForMessage(message, fields) {
  const text = String(message || '').toLowerCase();
  let best = null;
  let bestAt = Infinity;
  for (const [name, input] of Object.entries(fields)) {
    for (const variant of new Set([name, name.replace(/_/g, ' ')])) {
      // field names are plain [a-z_] words, so they need no escaping
      const re = new RegExp(`(^|[^a-z_])${variant}($|[^a-z_])`);
      const m = re.exec(text);
      // prefer the earliest mention; on a tie the longer name (price_selector over price)
      if (m && (m.index < bestAt || (m.index === bestAt && name.length > (best?.name.length || 0)))) {
        best = { name, input };
        bestAt = m.index;
      }
    }
  }
  return best ? best.input : null;
}

/** Show `message` in an error box, or hide the box when the message is empty. */
export function setFormError(box, message) {
  box.textContent = message;
  box.hidden = !message;
}

/** Show or clear the error under an input; the <p> is `#{input.id}-error`. */
export function setFieldError(input, message) {
  const error = document.getElementById(`${input.id}-error`);
  if (error) setFormError(error, message);
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

/**
 * A server's refusal of a form: under the input of `inputs` ({name: input})
 * its message names, else in the form's error `box`. Returns the input it
 * marked, or null.
 */
export function showServerError(err, inputs, box) {
  const input = fieldForMessage(err.message, inputs);
  if (input) setFieldError(input, errorMessage(err));
  else setFormError(box, errorMessage(err));
  return input;
}
