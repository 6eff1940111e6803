// The agent's public names: what other parts (the gateway's local backend, the operator's pod)
// may use. Only light modules: importing this loads neither node-pty nor ws.
export { agentArgs, agentOptionSpecs, loadAgentConfig, AGENT_LIMITS, type AgentConfig, type AgentLaunch } from './agent-config.js';
export { loadPtyReader } from './pty-output.js';
export { AgentErrorCodes, type AgentErrorCode } from './errors.js';
export type { AgentStatus } from './agent-server.js';
export type { ExitStatus } from './attachment.js';
