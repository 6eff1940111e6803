// The sign-in form.
import { ApiError, api, type Me } from './api.js';
import { h, replaceChildren } from './dom.js';

export interface LoginOptions {
  /** Why the user sees this form again (signed out elsewhere, expired). */
  message?: string;
  onLoggedIn(me: Me): void;
}

export function showLogin(root: HTMLElement, options: LoginOptions): { dispose(): void } {
  const username = h('input', {
    id: 'login-username', name: 'username', type: 'text', autocomplete: 'username', required: true,
    autocapitalize: 'none', spellcheck: 'false', 'data-testid': 'login-username',
  });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
    'data-testid': 'login-password',
  });
  const submit = h('button', { type: 'submit', class: 'button primary wide', 'data-testid': 'login-submit' }, 'Sign in');
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'login-error', hidden: !options.message }, options.message ?? '');
  const form = h(
    'form',
    { class: 'login-form', 'data-testid': 'login-form' },
    h('label', { for: 'login-username' }, 'User name'),
    username,
    h('label', { for: 'login-password' }, 'Password'),
    password,
    error,
    submit,
  );

  replaceChildren(
    root,
    h(
      'main',
      { class: 'login-page' },
      h(
        'section',
        { class: 'login-card', 'aria-labelledby': 'login-title' },
        h('div', { class: 'brand brand-large' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '>_'), h('span', {}, 'CloudTerm')),
        h('h1', { id: 'login-title', class: 'login-title' }, 'Sign in to your terminals'),
        form,
      ),
    ),
  );

  let retryTimer: ReturnType<typeof setInterval> | null = null;
  const showError = (message: string) => {
    error.textContent = message;
    error.hidden = false;
  };

  // After a 429 the button stays disabled for Retry-After seconds, counting down.
  const waitBeforeRetry = (seconds: number) => {
    let left = Math.ceil(seconds);
    submit.disabled = true;
    const tick = () => {
      if (left <= 0) {
        if (retryTimer) clearInterval(retryTimer);
        retryTimer = null;
        submit.disabled = false;
        submit.textContent = 'Sign in';
        return;
      }
      submit.textContent = `Try again in ${left} s`;
      left -= 1;
    };
    tick();
    retryTimer = setInterval(tick, 1000);
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    if (!username.value || !password.value) return showError('Enter your user name and password.');
    submit.disabled = true;
    error.hidden = true;
    try {
      const me = await api.login(username.value.trim(), password.value);
      options.onLoggedIn(me);
    } catch (caught) {
      submit.disabled = false;
      const failure = caught instanceof ApiError ? caught : new ApiError(0, 'network', String(caught));
      if (failure.status === 401) {
        showError('Wrong user name or password.');
        password.select();
      } else if (failure.status === 429) {
        showError('Too many attempts. Wait a moment before trying again.');
        waitBeforeRetry(failure.retryAfter ?? 30);
      } else {
        showError(failure.status === 0 ? 'The gateway cannot be reached. Check your connection.' : failure.message);
      }
    }
  });

  username.focus();
  return {
    dispose() {
      if (retryTimer) clearInterval(retryTimer);
    },
  };
}
