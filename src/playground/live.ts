/**
 * Terminal output for long-running commands: persistent log lines above a
 * block that redraws in place (the rollout tree, a progress bar). Without a
 * terminal the block is not drawn; callers print plain lines instead.
 */
export class LiveOutput {
  private lines = 0;
  readonly tty: boolean;
  private readonly out: NodeJS.WriteStream;

  constructor(out: NodeJS.WriteStream = process.stdout, tty = out.isTTY === true) {
    this.out = out;
    this.tty = tty;
  }

  /** A line that stays. */
  log(text: string): void {
    if (!this.tty) {
      this.out.write(`${text}\n`);
      return;
    }
    const block = this.block;
    this.clear();
    this.out.write(`${text}\n`);
    this.draw(block);
  }

  private block = '';

  /** Replaces the redrawn block (terminal only). */
  update(text: string): void {
    if (!this.tty) return;
    this.clear();
    this.draw(text);
  }

  /** Removes the block, e.g. before a summary. */
  done(): void {
    if (this.tty) this.clear();
    this.block = '';
  }

  private clear(): void {
    if (this.lines > 0) this.out.write(`\u001b[${this.lines}F\u001b[J`);
    this.lines = 0;
  }

  private draw(text: string): void {
    this.block = text;
    if (!text) return;
    const rows = this.out.rows || 40;
    // never taller than the screen, or the cursor cannot get back to its top
    const shown = text
      .replace(/\n$/, '')
      .split('\n')
      .slice(0, Math.max(1, rows - 2));
    this.out.write(`${shown.join('\n')}\n`);
    this.lines = shown.length;
  }
}

export function progressBar(done: number, total: number, width = 30): string {
  const f = total ? Math.min(1, done / total) : 1;
  const full = Math.round(f * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${done}/${total}`;
}
