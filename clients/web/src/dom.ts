// Tiny element builder: no framework, so screens stay small and the bundle stays light on phones.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      el.className = String(value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function mainEl(): HTMLElement {
  return document.getElementById("conteudo") as HTMLElement;
}

/** Replace the page content and move focus to it, so screen readers announce the new screen. */
export function showScreen(title: string, ...children: (Child | Child[])[]): HTMLElement {
  const main = mainEl();
  clear(main);
  document.title = `${title} · Telessaúde`;
  append(main, ...children);
  const heading = main.querySelector("h1");
  (heading instanceof HTMLElement ? heading : main).focus({ preventScroll: true });
  if (heading instanceof HTMLElement && !heading.hasAttribute("tabindex")) heading.tabIndex = -1;
  return main;
}

let toastTimer: number | undefined;

/** A short polite announcement (copied link, saved note…). */
export function toast(text: string): void {
  const box = document.getElementById("aviso") as HTMLElement;
  box.textContent = text;
  box.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (box.hidden = true), 4000);
}

export function errorBox(message: string): HTMLElement {
  return h("p", { class: "erro", role: "alert" }, message);
}
