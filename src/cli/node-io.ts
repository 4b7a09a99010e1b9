import { spawn } from 'node:child_process';
import type { CliIo } from './cli-context.js';
import { ExitError } from './cli-error.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a line from the terminal in raw mode so nothing is echoed. */
function promptSecret(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (text: string) => {
      for (const ch of text) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(buf);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new ExitError(130));
          return;
        }
        buf = ch === '\u007f' || ch === '\b' ? buf.slice(0, -1) : buf + ch;
      }
    };
    process.stderr.write(question);
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** The real process: stdout/stderr, stdin, signals, the editor. */
export function nodeIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    readStdin: () => readAll(process.stdin),
    stdinIsTTY: process.stdin.isTTY === true,
    promptSecret,
    interrupt: () => {
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return ac.signal;
    },
    // `sh -c '<editor> "$1"'` lets EDITOR carry arguments ("code -w") without quoting the path into a shell string.
    edit: (command, file) =>
      new Promise((resolve, reject) => {
        const child = spawn('/bin/sh', ['-c', `${command} "$1"`, 'oneedge-editor', file], { stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (code, signal) => resolve(signal ? 128 : (code ?? 1)));
      }),
    now: () => Date.now(),
  };
}
