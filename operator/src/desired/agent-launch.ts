// The argv after `cloudterm` that starts an agent in a terminal pod.
export interface AgentLaunch {
  readonly listen: string;
  readonly sessionId: string;
  readonly publicKeyFile: string;
  readonly cols: number;
  readonly rows: number;
  readonly cwd?: string;
  readonly record?: string;
  readonly command?: readonly string[];
}

export function agentArgs(launch: AgentLaunch): string[] {
  const args = ['agent', '--listen', launch.listen, '--session-id', launch.sessionId, '--public-key-file', launch.publicKeyFile];
  args.push('--cols', String(launch.cols), '--rows', String(launch.rows));
  if (launch.cwd) args.push('--cwd', launch.cwd);
  if (launch.record) args.push('--record', launch.record);
  if (launch.command) args.push('--', ...launch.command);
  return args;
}
