// The ceiling: node-pty read straight in the benchmark's own process, with no socket at all.
import * as pty from 'node-pty';
import type { Target, Terminal } from './terminal.js';

export function startCeiling(options: { workDir: string; env: NodeJS.ProcessEnv }): Target {
  const open = async (): Promise<Terminal> => {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.env)) if (value !== undefined) env[name] = value;
    const term = pty.spawn('/bin/sh', [], { name: 'xterm-256color', cols: 80, rows: 24, cwd: options.workDir, env, encoding: null });
    const terminal: Terminal = {
      type: (text) => term.write(Buffer.from(text, 'latin1')),
      sink: () => {},
      close: async () => {
        const exited = new Promise<void>((resolve) => term.onExit(() => resolve()));
        term.kill('SIGKILL');
        await exited;
      },
    };
    term.onData((data) => terminal.sink(data as unknown as Buffer));
    return terminal;
  };
  return { name: 'ceiling: node-pty in-process', pid: null, open, stop: async () => {} };
}
