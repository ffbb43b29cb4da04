/**
 * What a shell reports for a writer killed by SIGPIPE (128 + 13). Node ignores SIGPIPE, so a
 * reader that went away (`nvmf --help | head -1`, `| grep -q`) surfaces as an EPIPE 'error'
 * event on the stream instead, which would crash with a stack trace if nobody listened.
 */
export const EXIT_CLOSED_PIPE = 141;

interface Stream {
  on(event: 'error', listener: (e: NodeJS.ErrnoException) => void): unknown;
}

/**
 * End the process at once and silently when the reader of stdout or stderr is gone, as
 * coreutils do: nothing more can be shown, and a long-running command (monitor, watch) must
 * not keep running into the void. Another write error on stdout (a full disk) is reported on
 * stderr and exits 1; stderr's own errors cannot be reported anywhere.
 */
export function endQuietlyOnClosedPipe(
  stdout: Stream & { write(s: string): unknown },
  stderr: Stream & { write(s: string): unknown },
  exit: (code: number) => void,
): void {
  const closed = (e: NodeJS.ErrnoException): boolean =>
    e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED';
  stdout.on('error', (e) => {
    if (closed(e)) return exit(EXIT_CLOSED_PIPE);
    try {
      stderr.write(`nvmf: cannot write the output: ${e.code ?? e.message}\n`);
    } catch {
      // stderr is gone as well; the exit status still tells
    }
    exit(1);
  });
  stderr.on('error', (e) => exit(closed(e) ? EXIT_CLOSED_PIPE : 1));
}
