/**
 * Exactly the word, nothing around it: not `YES`, not `yes ` or ` yes` (a typed confirmation
 * is deliberate, and the man page promises only the word).
 */
export function isTypedConfirmation(answer: string | null, word: string): boolean {
  return answer === word;
}

/** `y` or `yes` in any case; everything else, empty included, is no. */
export function isYes(answer: string | null): boolean {
  if (answer === null) return false;
  const a = answer.trim().toLowerCase();
  return a === 'y' || a === 'yes';
}
