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
