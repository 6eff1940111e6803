// Which methods each path of the API answers, learnt from the routes as fastify registers them
// (its onRoute hook): a path asked with another method is then 405 with an `Allow` that lists
// them, instead of the router's 404, and a new route needs nothing more.

/** The methods each route pattern answers, for 405's Allow header; patterns as regular expressions. */
export class RouteMethods {
  private readonly routes: { readonly pattern: RegExp; readonly methods: Set<string> }[] = [];

  add(url: string, methods: string | readonly string[]): void {
    const source = `^${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+')}$`;
    let route = this.routes.find((r) => r.pattern.source === source);
    if (!route) this.routes.push((route = { pattern: new RegExp(source), methods: new Set() }));
    for (const method of typeof methods === 'string' ? [methods] : methods) route.methods.add(method);
  }

  /** The methods `path` answers to, sorted; empty when no route has this path. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) for (const method of route.methods) methods.add(method);
    return [...methods].sort();
  }
}
