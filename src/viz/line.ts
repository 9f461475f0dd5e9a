/**
 * linePlot: values over time, one line per selected element, from a Runner's value monitor
 * (Trace), a tensor [T] / [T, N], a Float32Array / number[] of length T, or rows [T][N] (BrainPy's
 * val_matrix). Long series are decimated per line to `maxPoints` by keeping each bucket's minimum
 * and maximum, so spikes and peaks survive.
 *
 *   await linePlot(runner.mon.ts, runner.mon['E.V'], { plotIds: [0, 1], ylabel: 'V (mV)', file: 'out/v.png' });
 */
import type { TopLevelSpec } from 'vega-lite';
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { MonitorData } from '../nn/runner/monitors';
import { renderPlot, type OutputOptions, type PlotOutput } from './render';

/** What linePlot accepts: values over time, [T] or [T, N]. */
export type SeriesSource =
  | MonitorData
  | tf.Tensor
  | Float32Array
  | Float64Array
  | readonly number[]
  | readonly (readonly number[])[];

/** Options of linePlot. */
export interface LineOptions extends OutputOptions {
  title?: string;
  /** x axis title (default 'Time (ms)'). */
  xlabel?: string;
  /** y axis title (default ''). */
  ylabel?: string;
  /** Names of the lines (a string for one line); shows a legend. */
  legend?: string | readonly string[];
  /** Which elements (columns) to draw (default: all if ≤ 10, else the first 10). */
  plotIds?: readonly number[];
  /** Plot size in SVG pixels (default 800 × 300). */
  width?: number;
  height?: number;
  /** Most points per line (default 4000; min/max decimation above). */
  maxPoints?: number;
}

/** [T, N] row-major values. */
function toMatrix(
  where: string,
  values: SeriesSource,
): { data: ArrayLike<number>; T: number; n: number } {
  if (values instanceof MonitorData)
    return { data: values.toDense(), T: values.numSteps, n: values.size };
  if (values instanceof tf.Tensor) {
    const T = values.shape[0] ?? 1;
    return { data: values.dataSync() as ArrayLike<number>, T, n: values.size / Math.max(T, 1) };
  }
  if (values instanceof Float32Array || values instanceof Float64Array) {
    return { data: values, T: values.length, n: 1 };
  }
  if (Array.isArray(values)) {
    if (values.length === 0 || typeof values[0] === 'number') {
      return { data: values as readonly number[], T: values.length, n: 1 };
    }
    const rows = values as readonly (readonly number[])[];
    const n = rows[0].length;
    const data = new Float64Array(rows.length * n);
    rows.forEach((r, k) => {
      if (!Array.isArray(r) || r.length !== n) {
        throw new ArgumentError(`${where}: row ${k} must have ${n} values like row 0`);
      }
      data.set(r, k * n);
    });
    return { data, T: rows.length, n };
  }
  throw new ArgumentError(
    `${where}: values must be a monitor, a tensor, a typed array or an array over time; got ${describeValue(values)}`,
  );
}

/** Indices of the points kept: first, last, and each bucket's min and max, in time order. */
export function decimate(y: ArrayLike<number>, maxPoints: number): number[] {
  const T = y.length;
  if (T <= maxPoints) return Array.from({ length: T }, (_, k) => k);
  const buckets = Math.max(1, Math.floor(maxPoints / 2));
  const out: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * T) / buckets);
    const hi = Math.floor(((b + 1) * T) / buckets);
    let kMin = lo;
    let kMax = lo;
    for (let k = lo; k < hi; k++) {
      if (y[k] < y[kMin]) kMin = k;
      if (y[k] > y[kMax]) kMax = k;
    }
    if (kMin === kMax) out.push(kMin);
    else out.push(Math.min(kMin, kMax), Math.max(kMin, kMax));
  }
  if (out[out.length - 1] !== T - 1) out.push(T - 1);
  return out;
}

/** The Vega-Lite spec of a line plot (exposed for tests and custom rendering). */
export function lineSpec(
  ts: ArrayLike<number>,
  values: SeriesSource,
  options: LineOptions = {},
): TopLevelSpec {
  const where = 'linePlot';
  const { data, T, n } = toMatrix(where, values);
  if (ts === null || typeof ts !== 'object' || ts.length !== T) {
    throw new ArgumentError(
      `${where}: ts has ${ts?.length ?? describeValue(ts)} times but the values have ${T} steps`,
    );
  }
  const ids = options.plotIds ?? Array.from({ length: Math.min(n, 10) }, (_, j) => j);
  for (const j of ids) {
    if (!(Number.isInteger(j) && j >= 0 && j < n)) {
      throw new ArgumentError(`${where}: plotIds contains ${j}, outside [0, ${n})`);
    }
  }
  const legend =
    options.legend === undefined
      ? undefined
      : typeof options.legend === 'string'
        ? [options.legend]
        : options.legend;
  if (legend !== undefined && legend.length !== ids.length) {
    throw new ArgumentError(`${where}: ${legend.length} legend names for ${ids.length} lines`);
  }
  const names = legend ?? ids.map((j) => `#${j}`);
  const {
    xlabel = 'Time (ms)',
    ylabel = '',
    width = 800,
    height = 300,
    maxPoints = 4000,
    title,
  } = options;
  const rows: { t: number; y: number; series: string; order: number }[] = [];
  ids.forEach((j, s) => {
    const y = new Float64Array(T);
    for (let k = 0; k < T; k++) y[k] = data[k * n + j];
    for (const k of decimate(y, maxPoints))
      rows.push({ t: ts[k], y: y[k], series: names[s], order: k });
  });
  const showLegend = legend !== undefined || ids.length > 1;
  const t0 = T ? ts[0] : 0;
  const t1 = T ? ts[T - 1] : 1;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(title === undefined ? {} : { title: { text: title, anchor: 'start' } }),
    width,
    height,
    background: 'white',
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 1.5, clip: true, aria: false },
    encoding: {
      x: {
        field: 't',
        type: 'quantitative',
        title: xlabel,
        scale: { domain: [t0, t1 > t0 ? t1 : t0 + 1], nice: false, zero: false },
      },
      y: { field: 'y', type: 'quantitative', title: ylabel, scale: { zero: false } },
      order: { field: 'order', type: 'quantitative' },
      color: showLegend
        ? { field: 'series', type: 'nominal', title: null, sort: names as string[] }
        : { value: '#1f77b4' },
      detail: { field: 'series', type: 'nominal' },
    },
    config: { font: 'DejaVu Sans, sans-serif', view: { stroke: '#888' } },
  };
}

/** Draw lines over time; resolves to PNG bytes for a .png file or format 'png', else the SVG string. */
export function linePlot(
  ts: ArrayLike<number>,
  values: SeriesSource,
  options: LineOptions & ({ file: `${string}.png` } | { format: 'png' }),
): Promise<Uint8Array>;
export function linePlot(
  ts: ArrayLike<number>,
  values: SeriesSource,
  options?: LineOptions & { file?: `${string}.svg`; format?: 'svg' },
): Promise<string>;
export function linePlot(
  ts: ArrayLike<number>,
  values: SeriesSource,
  options?: LineOptions,
): Promise<PlotOutput>;
export async function linePlot(
  ts: ArrayLike<number>,
  values: SeriesSource,
  options: LineOptions = {},
): Promise<PlotOutput> {
  return renderPlot('linePlot', lineSpec(ts, values, options), options);
}
