// A tiny history router. A feature adds its screens with one line in routes.ts.

export type Params = Record<string, string>;
export type Screen = (params: Params, query: URLSearchParams) => void | Promise<void>;

interface Route {
  pattern: RegExp;
  keys: string[];
  screen: Screen;
}

const table: Route[] = [];
let leaveHook: (() => void) | null = null;

/** Register a screen for a path like "/consultas/:id/sala". */
export function route(path: string, screen: Screen): void {
  const keys: string[] = [];
  const source = path.replace(/:([a-z_]+)/g, (_m, key: string) => {
    keys.push(key);
    return "([^/]+)";
  });
  table.push({ pattern: new RegExp(`^${source}/?$`), keys, screen });
}

/** Run `fn` when the user navigates away from the current screen (stop camera, leave the room…). */
export function onLeave(fn: () => void): void {
  leaveHook = fn;
}

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  void dispatch();
}

export async function dispatch(): Promise<void> {
  const hook = leaveHook;
  leaveHook = null;
  hook?.();
  const path = location.pathname;
  for (const r of table) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    const params: Params = {};
    r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
    await r.screen(params, new URLSearchParams(location.search));
    return;
  }
  navigate("/", true);
}

export function startRouter(): void {
  window.addEventListener("popstate", () => void dispatch());
  // Internal links (data-link) navigate without reloading the page.
  document.addEventListener("click", (ev) => {
    const a = (ev.target as Element | null)?.closest?.("a[data-link]");
    if (!(a instanceof HTMLAnchorElement) || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    ev.preventDefault();
    navigate(a.getAttribute("href") ?? "/");
  });
  void dispatch();
}
