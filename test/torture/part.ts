/**
 * One part of `npm run torture`: runs until its deadline, then reports what it did (counts) and
 * every broken invariant it saw (violations). A part never stops early on a violation: the
 * count of them is part of the figure.
 */
export interface PartResult {
  counts: Record<string, number>;
  violations: string[];
}

export interface Part {
  name: string;
  /** What the part forces and which invariant it checks, one line for the report. */
  about: string;
  run(deadline: number, log: (line: string) => void): Promise<PartResult>;
}

/** Keep the first few violation texts whole and count the rest. */
export class Violations {
  readonly list: string[] = [];
  private dropped = 0;
  add(text: string): void {
    if (this.list.length < 20) this.list.push(text);
    else this.dropped++;
  }
  get count(): number {
    return this.list.length + this.dropped;
  }
  result(): string[] {
    return this.dropped > 0 ? [...this.list, `... and ${this.dropped} more`] : this.list;
  }
}

/** Poll `cond` until it holds; a generous bound, since the machine is loaded by design. */
export async function waitFor(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
