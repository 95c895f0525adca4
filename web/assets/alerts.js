// Opt-in alerts for what needs the user while the page is in a background tab:
// a desktop notification (the browser's Notification API, asked for on a button
// press, never on load) and a short sound. The choices persist per browser.

import { el } from './dom.js';
import { t } from './i18n.js';

const STORAGE_PREFIX = 'taskwire.alerts.';

function load(key) {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_PREFIX + key) || '{}');
    return { desktop: saved.desktop === true, sound: saved.sound === true };
  } catch {
    return { desktop: false, sound: false };
  }
}

function save(key, choice) {
  try { localStorage.setItem(STORAGE_PREFIX + key, JSON.stringify(choice)); } catch { /* private mode: not kept */ }
}

const supported = () => typeof window.Notification === 'function';

/** The permission the browser holds for us: 'granted', 'denied', 'default' or 'unsupported'. */
const permission = () => (supported() ? window.Notification.permission : 'unsupported');

let audio = null;

/** A short two-tone chime, made in the page (no sound file to load). */
function chime() {
  try {
    audio ??= new AudioContext();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const now = audio.currentTime;
    for (const [offset, frequency] of [[0, 880], [0.16, 1320]]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, now + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.14);
      tone.connect(gain).connect(audio.destination);
      tone.start(now + offset);
      tone.stop(now + offset + 0.15);
    }
  } catch { /* no audio output: the notification is enough */ }
}

/**
 * Puts the two switches into `container` and returns `notify(title, body, tag)`,
 * which shows what the user opted into. `key` names the page's choices
 * (`approvals`, `my-tasks`, `orders`); `what` says, translated, when it alerts ("for each new task").
 */
export function mountAlerts(container, key, what) {
  const choice = load(key);
  const desktop = el('button', { type: 'button', id: 'alerts-desktop', class: 'btn btn-ghost btn-small', 'aria-pressed': 'false' });
  const soundBox = el('input', { type: 'checkbox', id: 'alerts-sound' });
  const hint = el('span', { class: 'alerts-hint', id: 'alerts-hint', role: 'status' });
  soundBox.checked = choice.sound;

  const show = () => {
    const on = choice.desktop && permission() === 'granted';
    desktop.setAttribute('aria-pressed', String(on));
    desktop.textContent = t(on ? 'alerts.on' : 'alerts.off');
    desktop.title = t(on ? 'alerts.on_title' : 'alerts.off_title', { what });
    const blocked = permission() === 'denied';
    hint.textContent = blocked ? t('alerts.blocked') : permission() === 'unsupported' ? t('alerts.unsupported') : '';
    desktop.disabled = permission() === 'unsupported';
  };

  desktop.addEventListener('click', async () => {
    if (choice.desktop && permission() === 'granted') {
      choice.desktop = false;
    } else {
      // Asked only here, on the user's press.
      const answer = permission() === 'granted' ? 'granted' : await window.Notification.requestPermission();
      choice.desktop = answer === 'granted';
    }
    save(key, choice);
    show();
  });
  soundBox.addEventListener('change', () => {
    choice.sound = soundBox.checked;
    save(key, choice);
    if (choice.sound) chime(); // a sample, and the press lets the page play sound later
  });

  container.replaceChildren(
    el('div', { class: 'alerts', role: 'group', 'aria-label': t('alerts.label') },
      desktop,
      el('label', { class: 'alerts-sound', for: 'alerts-sound' }, soundBox, ' ', t('alerts.sound')),
      hint));
  show();

  return function notify(title, body, tag) {
    if (choice.sound) chime();
    if (!choice.desktop || permission() !== 'granted') return;
    try {
      const note = new window.Notification(title, { body, tag, icon: '/assets/favicon.svg' });
      note.onclick = () => { window.focus(); note.close(); };
    } catch { /* e.g. a platform that needs a service worker: the sound and the page still tell */ }
  };
}
