/**
 * ProgressBar for forLoop/scan (spec §3.6). The bar is updated every `freq` iterations (or
 * `count` times in all, or about every 5 % by default) and closed at the last iteration with the
 * remainder. Output goes to a `ProgressWriter`: by default a cli-progress bar in Node when stdout
 * is a TTY, and nothing otherwise (pipes, CI logs, browsers). Tests inject a writer and count
 * the updates.
 */
import { tf } from '../backend/tf';
import { describeValue, TransformError } from '../errors';

/** What a loop reports to the description function: the iteration, the carry and the step output. */
export interface ProgressInfo {
  /** Index of the iteration just finished (the xs index; with `reverse` it counts down). */
  readonly i: number;
  readonly carry: unknown;
  readonly y: unknown;
}

/**
 * A fixed description, or `[format, fn]`: `fn(info)` returns values for the `{name}` / `{name:.3f}`
 * placeholders of `format`, evaluated at each update.
 */
export type ProgressDescription =
  string | readonly [format: string, fn: (info: ProgressInfo) => Record<string, unknown>];

/** Where a bar is drawn. `value` counts finished iterations. */
export interface ProgressWriter {
  start(total: number, description: string): void;
  update(value: number, description: string): void;
  stop(): void;
}

export interface ProgressBarOptions {
  /** Update every `freq` iterations (a positive integer). Exclusive with `count`. */
  freq?: number;
  /** Update `count` times over the loop (freq = floor(n / count)). Exclusive with `freq`. */
  count?: number;
  /** The description; default `Running for {n} iterations`. */
  desc?: ProgressDescription;
  /** Where to draw (default: cli-progress on a TTY, else silent). */
  writer?: ProgressWriter;
}

/** A reusable progress bar: each loop run calls `start(n)` and drives the returned run. */
export class ProgressBar {
  readonly freq: number | undefined;
  readonly count: number | undefined;
  readonly desc: ProgressDescription | undefined;
  private readonly writer: ProgressWriter | undefined;

  constructor(options: ProgressBarOptions = {}) {
    const { freq, count, desc, writer } = options;
    if (freq !== undefined && count !== undefined) {
      throw new TransformError(
        `ProgressBar: give freq or count, not both (got freq=${freq}, count=${count})`,
      );
    }
    if (freq !== undefined && !(Number.isInteger(freq) && freq > 0)) {
      throw new TransformError(
        `ProgressBar: freq must be a positive integer, got ${describeValue(freq)}`,
      );
    }
    if (count !== undefined && !(Number.isInteger(count) && count > 0)) {
      throw new TransformError(
        `ProgressBar: count must be a positive integer, got ${describeValue(count)}`,
      );
    }
    if (desc !== undefined && typeof desc !== 'string') {
      if (
        !Array.isArray(desc) ||
        desc.length !== 2 ||
        typeof desc[0] !== 'string' ||
        typeof desc[1] !== 'function'
      ) {
        throw new TransformError(
          `ProgressBar: desc must be a string or a [format string, function] pair, got ${describeValue(desc)}`,
        );
      }
    }
    this.freq = freq;
    this.count = count;
    this.desc = desc;
    this.writer = writer;
  }

  /** The update period and remainder for a loop of `n` iterations (validated). */
  schedule(n: number): { freq: number; remainder: number } {
    let freq: number;
    if (this.count !== undefined) {
      freq = Math.floor(n / this.count);
      if (freq === 0) {
        throw new TransformError(
          `ProgressBar: count=${this.count} is larger than the number of iterations (${n})`,
        );
      }
    } else if (this.freq !== undefined) {
      freq = this.freq;
    } else {
      freq = n > 20 ? Math.floor(n / 20) : 1;
    }
    if (freq > n) {
      throw new TransformError(
        `ProgressBar: freq=${freq} is larger than the number of iterations (${n})`,
      );
    }
    return { freq, remainder: n % freq };
  }

  /** Begin a run over `n` iterations (n ≥ 1). */
  start(n: number): ProgressRun {
    return new ProgressRun(this, n, this.schedule(n), this.writer ?? defaultWriter());
  }
}

/** One loop's use of a bar: `step(k, info)` after each iteration (k counts 0..n-1), `close()` on error. */
export class ProgressRun {
  private value = 0;
  private open = false;

  constructor(
    private readonly bar: ProgressBar,
    private readonly n: number,
    private readonly plan: { freq: number; remainder: number },
    private readonly writer: ProgressWriter,
  ) {}

  step(k: number, info: ProgressInfo): void {
    if (k === 0) {
      this.writer.start(this.n, this.describe(null));
      this.open = true;
    }
    const { freq, remainder } = this.plan;
    if (k % freq === freq - 1) {
      this.value += freq;
      this.writer.update(this.value, this.describe(info));
    }
    if (k === this.n - 1) {
      if (remainder > 0) {
        this.value += remainder;
        this.writer.update(this.value, this.describe(info));
      }
      this.close();
    }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.writer.stop();
  }

  private describe(info: ProgressInfo | null): string {
    const desc = this.bar.desc;
    if (desc === undefined) return `Running for ${this.n.toLocaleString('en-US')} iterations`;
    if (typeof desc === 'string') return desc;
    const [format, fn] = desc;
    if (info === null) return format.replace(/\{[^}]*\}/g, '');
    return formatPlaceholders(format, fn(info));
  }
}

/** Fill `{name}` and `{name:spec}` (spec: `.Nf`, `.Ne`, `,`, `d`) from `values`. */
export function formatPlaceholders(format: string, values: Record<string, unknown>): string {
  return format.replace(
    /\{(\w+)(?::([^}]*))?\}/g,
    (whole, name: string, spec: string | undefined) => {
      if (!(name in values)) return whole;
      const v = toPlain(values[name]);
      if (typeof v !== 'number' || spec === undefined) return String(v);
      const fixed = /^\.(\d+)f$/.exec(spec);
      if (fixed) return v.toFixed(Number(fixed[1]));
      const exp = /^\.(\d+)e$/.exec(spec);
      if (exp) return v.toExponential(Number(exp[1]));
      if (spec === ',') return v.toLocaleString('en-US');
      if (spec === 'd') return String(Math.trunc(v));
      return String(v);
    },
  );
}

function toPlain(v: unknown): unknown {
  if (v instanceof tf.Tensor) {
    const data = Array.from(v.dataSync() as ArrayLike<number>);
    return v.size === 1 ? data[0] : `[${data.join(', ')}]`;
  }
  return v;
}

/** A writer that draws nothing. */
export const silentWriter: ProgressWriter = { start() {}, update() {}, stop() {} };

interface CliProgressModule {
  SingleBar: new (options: object) => {
    start(total: number, value: number, payload?: object): void;
    update(value: number, payload?: object): void;
    stop(): void;
  };
}

const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
const cliProgress: CliProgressModule | null = isNode
  ? await import('cli-progress').then(
      (m) => ((m as { default?: CliProgressModule }).default ?? m) as CliProgressModule,
      () => null,
    )
  : null;

/** cli-progress on an interactive Node stdout, else silent. */
export function defaultWriter(): ProgressWriter {
  if (cliProgress === null || !isNode || process.stdout?.isTTY !== true) return silentWriter;
  const bar = new cliProgress.SingleBar({
    format: '{desc} |{bar}| {percentage}% | {value}/{total} | ETA: {eta}s',
    stream: process.stdout,
    hideCursor: true,
  });
  return {
    start: (total, description) => bar.start(total, 0, { desc: description }),
    update: (value, description) => bar.update(value, { desc: description }),
    stop: () => bar.stop(),
  };
}

/** The `progressBar` option of loops: true (default bar), a number (its freq) or a ProgressBar. */
export type ProgressBarOption = boolean | number | ProgressBar;

/** Turn a loop's `progressBar` option into a bar, or null. */
export function toProgressBar(
  option: ProgressBarOption | undefined,
  where: string,
): ProgressBar | null {
  if (option === undefined || option === false) return null;
  if (option === true) return new ProgressBar();
  if (typeof option === 'number') return new ProgressBar({ freq: option });
  if (option instanceof ProgressBar) return option;
  throw new TransformError(
    `${where}: progressBar must be true, a number (the update period) or a ProgressBar, got ${describeValue(option)}`,
  );
}
