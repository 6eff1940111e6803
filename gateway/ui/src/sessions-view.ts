// The list of my terminals and those shared with me: open, delete, share, and start a new one.
import { ApiError, api, type Me, type SessionView, type ShareRole } from './api.js';
import { absoluteTime, h, recordedBadge, relativeTime, replaceChildren, toast } from './dom.js';

export interface SessionsOptions {
  me: Me;
  onOpen(session: SessionView): void;
  onLogout(): void;
  onUnauthorized(): void;
}

const REFRESH_MS = 15_000;
/** A Delete click arms the button; a second click within this time deletes. */
const CONFIRM_MS = 4_000;

export function showSessions(root: HTMLElement, options: SessionsOptions): { dispose(): void } {
  const { me } = options;
  let disposed = false;
  /** Sessions whose share panel is open, kept across redraws. */
  const sharesOpen = new Set<string>();

  const fail = (what: string, error: unknown) => {
    if (error instanceof ApiError && error.status === 401) return options.onUnauthorized();
    toast(`${what}: ${(error as Error).message}`, 'error');
  };

  const logout = h('button', { type: 'button', class: 'button ghost', 'data-testid': 'logout' }, 'Sign out');
  const nameInput = h('input', {
    type: 'text', placeholder: 'Name (optional)', maxlength: '64', 'aria-label': 'Terminal name', 'data-testid': 'new-terminal-name',
  });
  const tenantSelect =
    me.tenants.length > 1
      ? h('select', { 'aria-label': 'Tenant', 'data-testid': 'new-terminal-tenant' }, ...me.tenants.map((t) => h('option', { value: t.tenant }, t.tenant)))
      : null;
  const create = h('button', { type: 'submit', class: 'button primary', 'data-testid': 'new-terminal' }, 'New terminal');
  const list = h('div', { class: 'session-list', 'data-testid': 'session-list', 'aria-busy': 'true' });

  replaceChildren(
    root,
    h(
      'div',
      { class: 'page' },
      h(
        'header',
        { class: 'topbar' },
        h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '>_'), h('span', {}, 'CloudTerm')),
        h('span', { class: 'spacer' }),
        h('span', { class: 'who', 'data-testid': 'current-user' }, me.user),
        logout,
      ),
      h(
        'main',
        { class: 'content' },
        h(
          'div',
          { class: 'content-head' },
          h('h1', {}, 'Terminals'),
          h('form', { class: 'new-terminal', 'data-testid': 'new-terminal-form' }, nameInput, tenantSelect, create),
        ),
        list,
      ),
    ),
  );

  const render = (sessions: SessionView[]) => {
    list.setAttribute('aria-busy', 'false');
    if (sessions.length === 0) {
      replaceChildren(list, h('p', { class: 'empty' }, 'No terminals yet. Start one with “New terminal”.'));
      return;
    }
    const sorted = [...sessions].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    replaceChildren(list, ...sorted.map(row));
  };

  // Periodic refreshes never redraw under the user's fingers (a half-typed share would be
  // lost); refreshes after the user's own change always do.
  const refresh = async (force = false) => {
    try {
      const sessions = await api.listSessions();
      if (!disposed && (force || !list.contains(document.activeElement))) render(sessions);
    } catch (error) {
      if (!disposed) fail('Could not list terminals', error);
    }
  };

  /** The session's name; its owner (or a tenant admin) clicks it to rename it in place. */
  const nameLabel = (session: SessionView, isOwner: boolean): HTMLElement => {
    const label = h('div', { class: 'session-name', 'data-testid': 'session-name' }, session.name || session.id);
    if (!isOwner) return label;
    label.classList.add('renamable');
    label.title = 'Rename';
    label.tabIndex = 0;
    label.setAttribute('role', 'button');
    const edit = () => {
      const input = h('input', { type: 'text', class: 'rename-input', maxlength: '64', 'aria-label': 'New name', 'data-testid': 'rename-input' });
      input.value = session.name;
      let finished = false;
      const finish = async (save: boolean) => {
        if (finished) return;
        finished = true;
        const name = input.value.trim();
        if (save && name && name !== session.name) {
          try {
            await api.renameSession(session.id, name);
          } catch (error) {
            fail('Could not rename', error);
          }
        }
        await refresh(true);
      };
      input.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') void finish(true);
        if (event.key === 'Escape') void finish(false);
      });
      input.addEventListener('blur', () => void finish(false));
      label.replaceWith(input);
      input.focus();
      input.select();
    };
    label.addEventListener('click', edit);
    label.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') edit();
    });
    return label;
  };

  const row = (session: SessionView): HTMLElement => {
    const isOwner = session.role === 'owner' || session.role === 'admin';
    // A link, so that a middle or Ctrl+click opens the terminal in a tab of its own (several side by side).
    const open = h('a', { href: `#/s/${encodeURIComponent(session.id)}`, class: 'button small primary', 'data-testid': 'session-open' }, 'Open');
    open.addEventListener('click', (event) => {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      options.onOpen(session);
    });

    const actions = h('div', { class: 'row-actions' }, open);
    const sharePanel = isOwner ? shareSection(session) : null;
    if (isOwner && sharePanel) {
      const shareToggle = h('button', { type: 'button', class: 'button small', 'aria-expanded': String(!sharePanel.hidden), 'data-testid': 'session-share' }, 'Share');
      shareToggle.addEventListener('click', () => {
        sharePanel.hidden = !sharePanel.hidden;
        if (sharePanel.hidden) sharesOpen.delete(session.id);
        else sharesOpen.add(session.id);
        shareToggle.setAttribute('aria-expanded', String(!sharePanel.hidden));
        if (!sharePanel.hidden) sharePanel.querySelector('input')?.focus();
      });
      const del = h('button', { type: 'button', class: 'button small danger', 'data-testid': 'session-delete' }, 'Delete');
      let armed: ReturnType<typeof setTimeout> | null = null;
      del.addEventListener('click', async () => {
        if (!armed) {
          del.textContent = 'Confirm delete';
          del.classList.add('armed');
          armed = setTimeout(() => {
            armed = null;
            del.textContent = 'Delete';
            del.classList.remove('armed');
          }, CONFIRM_MS);
          return;
        }
        clearTimeout(armed);
        del.disabled = true;
        try {
          await api.deleteSession(session.id);
          toast(`Deleted ${session.name || session.id}`);
        } catch (error) {
          fail('Could not delete', error);
        }
        await refresh(true);
      });
      actions.append(shareToggle, del);
    }

    const shareCount = Object.keys(session.shares).length;
    return h(
      'article',
      { class: 'session-row', 'data-testid': 'session-row', 'data-session-id': session.id },
      h(
        'div',
        { class: 'session-main' },
        h('span', { class: `state-dot state-${session.state}`, title: session.state, 'aria-label': session.state }),
        h('div', {}, nameLabel(session, isOwner), h('div', { class: 'session-id' }, session.id)),
      ),
      h('div', { class: 'session-meta' },
        h('span', { class: 'meta-label' }, 'Owner'),
        h('span', {}, session.owner === me.user ? `${session.owner} (you)` : session.owner),
        // Someone in several tenants (or administering them) sees terminals of each: say whose.
        me.tenants.length > 1 ? h('span', { class: 'session-tenant', 'data-testid': 'session-tenant' }, `in ${session.tenant}`) : null),
      h('div', { class: 'session-meta' },
        h('span', { class: 'meta-label' }, 'Role'),
        h('span', { class: 'badges' }, h('span', { class: `badge badge-${session.role}` }, session.role), session.recorded ? recordedBadge() : null)),
      h('div', { class: 'session-meta', title: `Expires ${absoluteTime(session.expiresAt)}` },
        h('span', { class: 'meta-label' }, 'Expires'),
        h('span', { 'data-testid': 'session-expiry' }, relativeTime(session.expiresAt))),
      h('div', { class: 'session-meta' },
        h('span', { class: 'meta-label' }, 'Attached'),
        h('span', { 'data-testid': 'session-attached' }, session.attached === null ? '—' : String(session.attached))),
      h('div', { class: 'session-meta' },
        h('span', { class: 'meta-label' }, 'Shared'),
        h('span', {}, shareCount === 0 ? '—' : `${shareCount} user${shareCount === 1 ? '' : 's'}`)),
      actions,
      sharePanel,
    );
  };

  const shareSection = (session: SessionView): HTMLElement => {
    const chips = Object.entries(session.shares)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([user, role]) => {
        const remove = h('button', { type: 'button', class: 'chip-remove', 'aria-label': `Stop sharing with ${user}`, 'data-testid': 'share-remove' }, '×');
        remove.addEventListener('click', async () => {
          try {
            await api.unshare(session.id, user);
          } catch (error) {
            fail('Could not stop sharing', error);
          }
          await refresh(true);
        });
        return h('span', { class: 'chip', 'data-testid': 'share-chip' }, `${user} · ${role}`, remove);
      });
    const user = h('input', { type: 'text', placeholder: 'User name', required: true, 'aria-label': 'Share with user', 'data-testid': 'share-user' });
    const role = h('select', { 'aria-label': 'Access', 'data-testid': 'share-role' },
      h('option', { value: 'ro' }, 'read-only'), h('option', { value: 'rw' }, 'read-write'));
    const submit = h('button', { type: 'submit', class: 'button small', 'data-testid': 'share-submit' }, 'Share');
    const form = h('form', { class: 'share-form' }, user, role, submit);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const name = user.value.trim();
      if (!name) return;
      submit.disabled = true;
      try {
        await api.share(session.id, name, role.value as ShareRole);
        toast(`Shared with ${name} (${role.value})`);
        await refresh(true);
      } catch (error) {
        submit.disabled = false;
        fail('Could not share', error);
      }
    });
    return h('div', { class: 'share-panel', hidden: !sharesOpen.has(session.id) },
      h('div', { class: 'chips' }, ...(chips.length ? chips : [h('span', { class: 'muted' }, 'Not shared yet.')])), form);
  };

  const newForm = create.form;
  newForm?.addEventListener('submit', async (event) => {
    event.preventDefault();
    create.disabled = true;
    try {
      const name = nameInput.value.trim();
      const session = await api.createSession({
        ...(name ? { name } : {}),
        ...(tenantSelect ? { tenant: tenantSelect.value } : {}),
      });
      options.onOpen(session);
    } catch (error) {
      create.disabled = false;
      fail('Could not start a terminal', error);
    }
  });

  logout.addEventListener('click', async () => {
    try {
      await api.logout();
    } catch {
      // Signed out either way from the page's point of view; the cookie expires on its own.
    }
    options.onLogout();
  });

  void refresh();
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  return {
    dispose() {
      disposed = true;
      clearInterval(timer);
    },
  };
}
