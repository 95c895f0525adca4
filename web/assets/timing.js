// Rate limits for work that events can trigger many times a second.

/** Run fn at most once per `ms`; a call inside the quiet period runs once at its end. */
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    const run = () => { timer = null; last = Date.now(); fn(); };
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
}

/** Call fn `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
