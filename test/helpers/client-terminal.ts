// The terminal client as a user runs it: `cloudterm …` inside a real PTY (node-pty), in a shell
// that records `stty -a` before and after it and its exit status, so tests can type into it,
// read its screen, resize it, and check that the terminal was left as it was found.
import { spawn as spawnPty, type IPty } from 'node-pty';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SELF_COMMAND } from './gateway-fixture.js';

/** A user's home for the client: its own config directory, so tests never share a login. */
export interface ClientHome {
  readonly dir: string;
  readonly env: Record<string, string>;
  /** Runs a command without a terminal (stdin a pipe), as a script would. */
  run(args: readonly string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Runs a command in a fresh PTY (`cloudterm` unless another program is given). */
  terminal(args: readonly string[], size?: { cols: number; rows: number }, program?: readonly string[]): ClientTerminal;
  /** Ends every terminal still running and removes the home. */
  remove(): Promise<void>;
}

export async function makeClientHome(): Promise<ClientHome> {
  const dir = await mkdtemp(join(tmpdir(), 'cloudterm-client-'));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), LANG: 'C.UTF-8', TERM: 'xterm-256color' };
  const [command, ...prefix] = SELF_COMMAND;
  const terminals: ClientTerminal[] = [];
  return {
    dir,
    env,
    run: (args, stdin = '') =>
      new Promise((resolve, reject) => {
        const child = spawn(command!, [...prefix, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
        child.on('error', reject);
        child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(stdin);
      }),
    terminal: (args, size, program = SELF_COMMAND) => {
      const terminal = new ClientTerminal(dir, env, [...program, ...args], size ?? { cols: 80, rows: 24 });
      terminals.push(terminal);
      return terminal;
    },
    /** Ends whatever terminal a failed test left running, then removes the home. */
    remove: async () => {
      for (const terminal of terminals) terminal.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `stty -a` without the size, which a test may have changed on purpose. */
function settings(stty: string): string {
  return stty.replace(/rows \d+; columns \d+;/, '');
}

let terminals = 0;

export class ClientTerminal {
  readonly pty: IPty;
  /** Everything the outer terminal showed. */
  screen = '';
  private readonly tag: string;
  private exitCode: Promise<void>;

  constructor(
    private readonly dir: string,
    env: Record<string, string>,
    command: readonly string[],
    size: { cols: number; rows: number },
  ) {
    this.tag = join(dir, `t${(terminals += 1)}`);
    const quoted = command.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
    // The shell is the terminal's first program, as a login shell would be; the client runs in
    // its foreground, so SIGWINCH reaches it.
    const script = `stty -a > ${this.tag}.before; ${quoted}; echo $? > ${this.tag}.status; stty -a > ${this.tag}.after; echo CLIENT-DONE`;
    this.pty = spawnPty('/bin/sh', ['-c', script], { name: 'xterm-256color', cols: size.cols, rows: size.rows, cwd: process.cwd(), env });
    this.pty.onData((data) => (this.screen += data));
    this.exitCode = new Promise((resolve) => this.pty.onExit(() => resolve()));
  }

  type(text: string): void {
    this.pty.write(text);
  }

  resize(cols: number, rows: number): void {
    this.pty.resize(cols, rows);
  }

  /** Resolves once the screen (from `from` on) matches; rejects with what it showed after `timeoutMs`. */
  async waitFor(pattern: string | RegExp, { timeoutMs = 15_000, from = 0 } = {}): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const part = this.screen.slice(from);
      const found = typeof pattern === 'string' ? part.includes(pattern) : pattern.test(part);
      if (found) return part;
      if (Date.now() > deadline) throw new Error(`no ${pattern} on the screen within ${timeoutMs} ms; it shows:\n${JSON.stringify(part.slice(-2000))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The client's pid (the shell's child). */
  async clientPid(): Promise<number> {
    const found = await new Promise<string>((resolve) => {
      const child = spawn('pgrep', ['-P', String(this.pty.pid)]);
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk));
      child.on('exit', () => resolve(out));
    });
    const pid = Number(found.trim().split('\n')[0]);
    if (!pid) throw new Error('the client is not running');
    return pid;
  }

  /** Waits for the client to end: its exit status and whether the terminal's settings came back. */
  async finished(timeoutMs = 15_000): Promise<{ status: number; sttyBefore: string; sttyAfter: string }> {
    await this.waitFor('CLIENT-DONE', { timeoutMs });
    await this.exitCode;
    const [status, before, after] = await Promise.all(['status', 'before', 'after'].map((ext) => readFile(`${this.tag}.${ext}`, 'utf8')));
    return { status: Number(status!.trim()), sttyBefore: settings(before!), sttyAfter: settings(after!) };
  }

  kill(): void {
    try {
      this.pty.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
