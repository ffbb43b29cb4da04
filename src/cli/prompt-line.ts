import readline from 'node:readline';

/**
 * Read one line from `input` after writing `question` to `output`. EOF yields null. The
 * terminal's own line discipline does the editing, so no raw mode is needed.
 */
export function readLine(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  question: string,
): Promise<string | null> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input, output, terminal: false });
    let answered = false;
    output.write(question);
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(line);
    });
    rl.once('close', () => {
      if (!answered) {
        output.write('\n');
        resolve(null);
      }
    });
  });
}
