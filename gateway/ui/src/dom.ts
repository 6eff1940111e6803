// Tiny DOM helpers. Text goes in through textContent only, never innerHTML, so names of
// sessions and users can never become markup.

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** "in 5 min", "in 1 h 20 min", "2 min ago": coarse on purpose, it is refreshed every few seconds. */
export function relativeTime(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return 'unknown';
  const minutes = Math.round(Math.abs(ms) / 60_000);
  let span: string;
  if (minutes < 1) span = 'less than a minute';
  else if (minutes < 60) span = `${minutes} min`;
  else if (minutes < 48 * 60) span = minutes % 60 === 0 ? `${minutes / 60} h` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  else span = `${Math.round(minutes / 1440)} days`;
  return ms >= 0 ? `in ${span}` : `${span} ago`;
}

export function absoluteTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

let toastRoot: HTMLElement | null = null;

/** A short message in the corner; errors stay longer. */
export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  toastRoot ??= document.getElementById('toasts');
  if (!toastRoot) return;
  // The same message again (a burst of refused input, say) is one toast, not a pile of them.
  for (const shown of Array.from(toastRoot.children)) if (shown.textContent === message) return;
  const item = h('div', { class: `toast toast-${kind}`, 'data-testid': 'toast' }, message);
  toastRoot.appendChild(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8_000 : 4_000);
}

/** Marks a terminal whose output the gateway records. */
export function recordedBadge(): HTMLElement {
  return h(
    'span',
    { class: 'badge badge-recorded', 'data-testid': 'recorded-badge', title: 'Everything this terminal shows is recorded by the gateway' },
    'recorded',
  );
}
