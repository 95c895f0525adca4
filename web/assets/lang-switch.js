// The language switcher (<select id="lang-select">, in the top bar and on the
// login page): every language there is a catalog for, each named in itself;
// a choice is saved and the page reloads in it.

import { LANGUAGES, lang, choose } from './i18n.js';

/** "русский" → "Русский": the language's name, in that language. */
function nativeName(code) {
  try {
    const name = new Intl.DisplayNames([code], { type: 'language' }).of(code) || code;
    return name.charAt(0).toLocaleUpperCase(code) + name.slice(1);
  } catch {
    return code;
  }
}

const select = document.getElementById('lang-select');
if (select) {
  select.replaceChildren(...LANGUAGES.map((code) => {
    const option = new Option(nativeName(code), code, false, code === lang);
    option.lang = code;
    return option;
  }));
  select.value = lang;
  select.addEventListener('change', () => {
    choose(select.value);
    location.reload();
  });
}
