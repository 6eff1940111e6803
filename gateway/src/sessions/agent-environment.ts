// What a local agent, and so the shell it runs, inherits from the gateway: what a login session
// on this account would have, nothing of the gateway's own configuration. A CLOUDTERM_* variable,
// a Redis URL with its password, a cloud credential or NODE_OPTIONS given to the gateway must not
// reconfigure every agent or reach every terminal; the agent's own settings travel as its
// arguments (agentArgs), never through the environment.

/** Variables a login session has (login(1), pam_env, locale), passed on when the gateway has them. */
const LOGIN_VARIABLES = new Set(['HOME', 'USER', 'LOGNAME', 'SHELL', 'PATH', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'MAIL']);

export function agentEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (LOGIN_VARIABLES.has(name) || name.startsWith('LC_'))) out[name] = value;
  }
  return out;
}
