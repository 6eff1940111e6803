// The terminal-native client: the commands the `cloudterm` entry point dispatches to.
export { runLogin, runLogout } from './login-command.js';
export { runAttach } from './attach-command.js';
export { runSessions, runNew, runRm, runShare } from './session-commands.js';
export { ClientErrors } from './errors.js';
