// The page's language and its messages: which language (a saved choice, then
// the browser's languages, then English), its catalog (/assets/i18n/{lang}.json,
// English filling any gap), t(key, params) to read a message, and translate()
// for the static text the pages mark with data-i18n attributes.

const SAVED = 'taskwire.lang';
const root = document.documentElement;

/** The languages the server has a catalog for, as it lists them on <html data-languages>. */
export const LANGUAGES = (root.dataset.languages || 'en').split(/\s+/).filter(Boolean);

/** The first of `tags` there is a catalog for: the tag itself ("pt-BR") or its language ("pt"). */
export function bestLanguage(tags) {
  for (const tag of tags) {
    if (!tag) continue;
    const lower = tag.toLowerCase();
    const exact = LANGUAGES.find((code) => code.toLowerCase() === lower);
    if (exact) return exact;
    const base = LANGUAGES.find((code) => code.toLowerCase() === lower.split('-')[0]);
    if (base) return base;
  }
  return 'en';
}

function savedChoice() {
  try { return localStorage.getItem(SAVED); } catch { return null; }
}

/** The language of this page. */
export const lang = bestLanguage([savedChoice(), ...(navigator.languages || [navigator.language])]);

async function fetchCatalog(code) {
  try {
    const res = await fetch(`/assets/i18n/${code}.json`, { credentials: 'same-origin' });
    return res.ok ? await res.json() : {};
  } catch {
    return {};
  }
}

// Top-level await: every module that imports this one can call t() at once.
const [english, own] = await Promise.all([fetchCatalog('en'), lang === 'en' ? null : fetchCatalog(lang)]);
const messages = { ...english, ...(own || {}) };

/** "rtl" or "ltr", as the catalog says. */
export const dir = messages._dir === 'rtl' ? 'rtl' : 'ltr';

const plurals = new Intl.PluralRules(lang);
const numbers = new Intl.NumberFormat(lang);

/**
 * The message `key` with `{name}` placeholders filled from `params`; numbers
 * are written the language's way. A message that is an object of CLDR plural
 * categories ({"one": …, "few": …, "many": …, "other": …}) is chosen by
 * `params.count`. An unknown key reads as itself, so a gap shows, not breaks.
 */
export function t(key, params = {}) {
  let message = messages[key];
  if (message && typeof message === 'object') {
    const count = Number(params.count);
    message = message[count === 0 && message.zero ? 'zero' : plurals.select(count)] ?? message.other;
  }
  if (typeof message !== 'string') return key;
  return message.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = params[name];
    if (value == null) return whole;
    return typeof value === 'number' ? numbers.format(value) : String(value);
  });
}

/** Is there a message for `key` (in this language or English)? */
export const has = (key) => key in messages;

/**
 * Translate the marked static text under `node`: data-i18n="key" sets the
 * text, data-i18n-{attribute}="key" sets that attribute (placeholder,
 * aria-label, title, data-empty…).
 */
export function translate(node = document) {
  for (const element of node.querySelectorAll('*')) {
    for (const { name, value } of [...element.attributes]) {
      if (name === 'data-i18n') element.textContent = t(value);
      else if (name.startsWith('data-i18n-')) element.setAttribute(name.slice(10), t(value));
    }
  }
}

/** Remember `code` as the user's choice (this browser, and a cookie so the server renders it too). */
export function choose(code) {
  try { localStorage.setItem(SAVED, code); } catch { /* private mode: the cookie still tells the server */ }
  document.cookie = `lang=${encodeURIComponent(code)}; path=/; max-age=31536000; SameSite=Lax`;
}

root.lang = lang;
root.dir = dir;
// The server renders in the language of the cookie; keep it in step with a choice saved before it.
if (savedChoice() && !document.cookie.split('; ').includes(`lang=${lang}`)) choose(lang);
translate();
const page = [...document.body.classList].find((c) => c.startsWith('page-'))?.slice(5);
if (page && has(`page.${page}`)) document.title = `${t(`page.${page}`)} · taskwire`;
