// WebSocket close codes used by the agent and the gateway. docs/protocol.md lists each with what
// a client should do; the browser page decides from `reconnect` whether to reconnect and resume.

export interface CloseCodeInfo {
  readonly code: number;
  readonly reason: string;
  /** Whether a client should reconnect (possibly to another replica) and resume from its offset. */
  readonly reconnect: boolean;
}

function define<T extends Record<string, CloseCodeInfo>>(table: T): T {
  return table;
}

export const CloseCode = define({
  /** The session's process exited; the exit message came first. */
  SessionEnded: { code: 1000, reason: 'session ended', reconnect: false },
  /** The agent is stopping (SIGTERM) before the process exited. */
  AgentStopping: { code: 1001, reason: 'agent stopping', reconnect: false },
  /** A text frame: the protocol is binary only. */
  TextFrame: { code: 1003, reason: 'binary frames only', reconnect: false },
  /** A frame over the maximum message size (sent by ws itself). */
  TooBig: { code: 1009, reason: 'message too big', reconnect: false },
  /** The gateway is shutting down: reconnect (any replica) and resume from your offset. */
  GatewayRestart: { code: 4000, reason: 'gateway restarting, reconnect', reconnect: true },
  /** The attach offset is beyond the end of the output. */
  OffsetOutOfRange: { code: 4002, reason: 'attach offset out of range', reconnect: false },
  /** No attach message arrived in time after the hello. */
  AttachTimeout: { code: 4003, reason: 'no attach message in time', reconnect: true },
  /** A message of a known type had the wrong length. */
  Malformed: { code: 4004, reason: 'malformed message', reconnect: false },
  /** The user's credentials expired or were revoked while attached. */
  Unauthorized: { code: 4401, reason: 'credentials expired or revoked', reconnect: false },
  /** The user's share of the session was taken back or changed: reconnect to learn the new role (or 404). */
  AccessChanged: { code: 4403, reason: 'access to this session changed', reconnect: true },
  /** The session was deleted or reaped. */
  SessionGone: { code: 4404, reason: 'session gone', reconnect: false },
  /** The gateway could not reach the session's agent (refused, reset, or bad answer). */
  UpstreamFailed: { code: 4502, reason: 'agent unreachable', reconnect: true },
  /** The agent did not answer the upgrade in time. */
  UpstreamTimeout: { code: 4504, reason: 'agent did not answer in time', reconnect: true },
});

const byCode = new Map<number, CloseCodeInfo>(Object.values(CloseCode).map((info) => [info.code, info]));

export function describeCloseCode(code: number): CloseCodeInfo | undefined {
  return byCode.get(code);
}
