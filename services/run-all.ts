import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVICE_ENV, SERVICE_NAMES, SERVICE_NODE_ARGS } from './config.ts';

/**
 * `npm run services`: every service as its own child process, output prefixed by name.
 * Ctrl-C (or SIGTERM) stops them all; when one dies, the others are stopped too.
 */
const entry = fileURLToPath(new URL('./service-main.ts', import.meta.url));
const children = new Map<string, ChildProcess>();
let stopping = false;

function stopAll(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children.values()) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 6_000).unref();
  const wait = () => ([...children.values()].every((c) => c.exitCode !== null || c.signalCode !== null) ? process.exit(code) : setTimeout(wait, 100));
  wait();
}

for (const name of SERVICE_NAMES) {
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, '--import', 'tsx', entry, name], { env: { ...SERVICE_ENV, ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.set(name, child);
  const prefix = `[${name.padEnd(14)}]`;
  const forward = (stream: NodeJS.WritableStream) => (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter((line) => line !== '')
      .forEach((line) => stream.write(`${prefix} ${line}\n`));
  child.stdout!.on('data', forward(process.stdout));
  child.stderr!.on('data', forward(process.stderr));
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${prefix} exited (${signal ?? code}); stopping the others`);
      stopAll(1);
    }
  });
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
