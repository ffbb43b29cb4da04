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

/** Exactly the word, surrounding blanks ignored; `YES` is not `yes` (a typed confirmation is deliberate). */
export function isTypedConfirmation(answer: string | null, word: string): boolean {
  return answer !== null && answer.trim() === word;
}

/** `y` or `yes` in any case; everything else, empty included, is no. */
export function isYes(answer: string | null): boolean {
  if (answer === null) return false;
  const a = answer.trim().toLowerCase();
  return a === 'y' || a === 'yes';
}
