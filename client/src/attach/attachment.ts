// An attachment as the user lives it: the local terminal in raw mode wired to a ResumeConnection,
// the detach keys watched for, notices for drops, gaps and read-only keys, and the terminal
// restored before the outcome is known to anyone. Resolves with the exit status.
import { constants } from 'node:os';
import type { CommandIo } from '../../../core/src/command.js';
import { NoticeCode } from '../../../core/src/protocol/messages.js';
import type { OpenGateway } from '../command.js';
import { ClientError, ClientErrors } from '../errors.js';
import type { SessionView } from '../gateway-api.js';
import { DetachMatcher, describeDetachKeys } from './detach-keys.js';
import { LocalTerminal } from './local-terminal.js';
import { ResumeConnection, type AttachEnd } from './resume-connection.js';
import { isTerminal } from '../prompt.js';

export interface AttachOptions {
  readonly readOnly: boolean;
  /** The detach sequence (parseDetachKeys); empty: no detaching. */
  readonly detachKeys: Uint8Array;
}

/**
 * The WebSocket URL of a session's terminal on the gateway at `url`. `--ro` asks the gateway for a
 * read-only attachment (`?role=ro`), which the agent enforces, not only this client.
 */
export function attachUrl(url: string, sessionId: string, readOnly: boolean): string {
  return `${url.replace(/^http/, 'ws')}/api/sessions/${encodeURIComponent(sessionId)}/attach${readOnly ? '?role=ro' : ''}`;
}

function signalName(signal: number): string {
  const name = Object.entries(constants.signals).find(([, number]) => number === signal)?.[0];
  return name ? `${name}${signal === constants.signals.SIGHUP ? ' (the session was ended, or its terminal hung up)' : ''}` : `signal ${signal}`;
}

/** The remote program's status as a shell gives it: its code, or 128 + the signal that ended it. */
function exitStatus(end: Extract<AttachEnd, { kind: 'exited' }>): number {
  return end.signal > 0 ? 128 + end.signal : end.code & 0xff;
}

export function runAttachment(gateway: OpenGateway, session: SessionView, options: AttachOptions, io: CommandIo): Promise<number> {
  const terminal = new LocalTerminal(io);
  const matcher = new DetachMatcher(options.detachKeys);
  const keys = options.detachKeys.length > 0 ? describeDetachKeys(options.detachKeys) : null;
  const detachHint = keys ? ` (${keys} detaches)` : '';
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: number | ClientError) => {
      if (settled) return;
      settled = true;
      io.stop.removeEventListener('abort', onStop);
      connection.close();
      terminal.restore();
      if (outcome instanceof ClientError) reject(outcome);
      else resolve(outcome);
    };
    const interactive = isTerminal(io.stdin);
    let readOnlyTold = false;
    let reconnecting = false;
    let draining = false;
    /** Whether a connection dropped: from then on every gap is a loss the user must see. */
    let lostSomething = false;
    const connection: ResumeConnection = new ResumeConnection({
      url: attachUrl(gateway.url, session.id, options.readOnly),
      token: gateway.login.token,
      ca: gateway.ca,
      api: gateway.api,
      readOnly: options.readOnly,
      events: {
        hello: (role) => {
          terminal.enterRaw();
          // Read from now on: bytes piped in before the attach would have nowhere to go.
          terminal.onInput(onInput);
          const readOnly = options.readOnly || role === 'ro';
          // In raw mode a line ends with a carriage return too.
          io.stderr.write(`[cloudterm] attached to ${session.name} (${session.id})${readOnly ? ', read-only' : ''}${detachHint}${isTerminal(io.stderr) ? '\r\n' : '\n'}`);
        },
        output: (data) => {
          const more = terminal.write(data);
          // Frames ws had already parsed still arrive after a pause: one drain is waited for.
          if (!more && !draining) {
            draining = true;
            terminal.onDrain(() => {
              draining = false;
              connection.resumeOutput();
            });
          }
          return more;
        },
        gap: (from, to) => {
          // Attaching at 0 to a session whose oldest output was dropped is history, not a loss.
          if (from === 0 && !lostSomething) return;
          terminal.notice(`${to - from} bytes of output are missing here: the session no longer held them`);
        },
        notice: (code, message) => {
          if (code === NoticeCode.ReadOnly && readOnlyTold) return;
          if (code === NoticeCode.ReadOnly) readOnlyTold = true;
          terminal.notice(message);
        },
        dropped: (why) => {
          lostSomething = true;
          // One line however many attempts it takes: finished by "resumed" or by the outcome.
          if (!reconnecting) terminal.notice(`connection lost (${why}); reconnecting${detachHint}…`, { open: true });
          reconnecting = true;
          // Keys typed blind are dropped, but a pipe's bytes can wait for the next connection.
          if (!interactive) terminal.pauseInput();
        },
        resumed: () => {
          reconnecting = false;
          if (!interactive) terminal.resumeInput();
          terminal.finishLine(' resumed');
        },
        ended: (end) => {
          // A signal is worth a word: a hangup is what ending the session (`cloudterm rm`, the
          // page's Delete, expiry) does to its program.
          if (end.kind === 'exited' && end.signal > 0) terminal.notice(`the session's program was ended by ${signalName(end.signal)}`);
          if (end.kind === 'exited') settle(exitStatus(end));
          else settle(end.error);
        },
      },
    });
    const onStop = () => {
      const name = String(io.stop.reason);
      settle(128 + (constants.signals[name as keyof typeof constants.signals] ?? 15));
    };
    if (io.stop.aborted) return onStop();
    io.stop.addEventListener('abort', onStop);

    function onInput(bytes: Uint8Array): void {
      const { forward, detach } = matcher.feed(bytes);
      if (forward.byteLength > 0 && !connection.input(forward) && (options.readOnly || !connection.writable) && !readOnlyTold && !reconnecting) {
        readOnlyTold = true;
        terminal.notice(`read-only: your keys are not sent${detachHint}`);
      }
      if (detach) {
        terminal.notice(`detached; the session runs on: cloudterm attach ${session.id}`);
        settle(ClientErrors.detached.exit);
      }
    }
    terminal.onResize((cols, rows) => connection.resize(cols, rows));
    const size = terminal.size();
    if (size) connection.resize(size.cols, size.rows);
    connection.start();
  });
}
