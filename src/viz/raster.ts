/**
 * rasterPlot: one dot per spike, time (ms) on x and neuron index on y, from a Runner's spike
 * monitor (events), a dense [T, N] raster (tensor, Trace or nested array) or `{ times, indices }`.
 * Large rasters stay fast: above `maxSpikes` spikes every k-th neuron is drawn (said in the
 * subtitle), and each spike is a tiny rect of fixed pixel size.
 *
 *   await rasterPlot(runner.mon.ts, runner.mon['E.spike'], { file: 'out/raster.png', title: 'E' });
 */
import type { TopLevelSpec } from 'vega-lite';
import { tf } from '../backend/tf';
import { ArgumentError, describeValue } from '../errors';
import { MonitorData, SpikeEvents } from '../nn/runner/monitors';
import { renderPlot, type OutputOptions, type PlotOutput } from './render';

/** Spikes as events: time (ms) and neuron index of each. */
export interface SpikeList {
  times: ArrayLike<number>;
  indices: ArrayLike<number>;
  /** Number of neurons (default: largest index + 1). */
  size?: number;
}

/** What rasterPlot accepts: a spike monitor, dense [T, N] values (nonzero = spike), or a SpikeList. */
export type SpikeSource =
  MonitorData | tf.Tensor | readonly (ArrayLike<number> | readonly boolean[])[] | SpikeList;

/** Options of rasterPlot. */
export interface RasterOptions extends OutputOptions {
  title?: string;
  /** x axis title (default 'Time (ms)'). */
  xlabel?: string;
  /** y axis title (default 'Neuron index'). */
  ylabel?: string;
  /** Plot size in SVG pixels (default 800 × 400). */
  width?: number;
  height?: number;
  /** Dot colour (default black). */
  color?: string;
  /** Most spikes drawn; above it every k-th neuron is drawn (default 100 000). */
  maxSpikes?: number;
  /** Time window [start, end] in ms (default: the span of ts). */
  timeRange?: readonly [number, number];
}

interface Events {
  times: Float64Array;
  indices: Int32Array;
  size: number;
}

function fromDense(
  where: string,
  data: ArrayLike<number | boolean>,
  T: number,
  n: number,
  ts: ArrayLike<number>,
): Events {
  const times: number[] = [];
  const indices: number[] = [];
  for (let k = 0; k < T; k++) {
    for (let j = 0; j < n; j++) {
      if (data[k * n + j]) {
        times.push(ts[k]);
        indices.push(j);
      }
    }
  }
  void where;
  return { times: Float64Array.from(times), indices: Int32Array.from(indices), size: n };
}

/** Normalise any SpikeSource to events. */
export function toEvents(where: string, ts: ArrayLike<number>, spikes: SpikeSource): Events {
  if (spikes instanceof SpikeEvents) {
    const steps = spikes.steps;
    const times = new Float64Array(steps.length);
    for (let k = 0; k < steps.length; k++) times[k] = ts[steps[k]] ?? spikes.ts[steps[k]];
    return { times, indices: spikes.indices, size: spikes.size };
  }
  if (spikes instanceof MonitorData) {
    return fromDense(where, spikes.toDense(), spikes.numSteps, spikes.size, ts);
  }
  if (spikes instanceof tf.Tensor) {
    if (spikes.rank < 1)
      throw new ArgumentError(`${where}: a spike tensor must be [T, ...], got a scalar`);
    const T = spikes.shape[0];
    const n = spikes.size / Math.max(T, 1);
    return fromDense(where, spikes.dataSync() as ArrayLike<number>, T, n, ts);
  }
  if (Array.isArray(spikes)) {
    const T = spikes.length;
    const n = T ? (spikes[0] as ArrayLike<number>).length : 0;
    const flat = new Uint8Array(T * n);
    spikes.forEach((row: ArrayLike<number | boolean>, k: number) => {
      if (row.length !== n) {
        throw new ArgumentError(`${where}: row ${k} has ${row.length} elements, row 0 has ${n}`);
      }
      for (let j = 0; j < n; j++) flat[k * n + j] = row[j] ? 1 : 0;
    });
    return fromDense(where, flat, T, n, ts);
  }
  if (spikes !== null && typeof spikes === 'object' && 'times' in spikes && 'indices' in spikes) {
    const { times, indices } = spikes as SpikeList;
    if (times.length !== indices.length) {
      throw new ArgumentError(
        `${where}: times (${times.length}) and indices (${indices.length}) must have the same length`,
      );
    }
    const idx = Int32Array.from(indices as ArrayLike<number>);
    const size = (spikes as SpikeList).size ?? idx.reduce((m, j) => Math.max(m, j + 1), 0);
    return { times: Float64Array.from(times as ArrayLike<number>), indices: idx, size };
  }
  throw new ArgumentError(
    `${where}: spikes must be a spike monitor, a [T, N] tensor or array, or { times, indices }; got ${describeValue(spikes)}`,
  );
}

/** [first, last + dt] of the step times. */
export function timeSpan(where: string, ts: ArrayLike<number>): [number, number] {
  if (ts === null || typeof ts !== 'object' || typeof ts.length !== 'number') {
    throw new ArgumentError(
      `${where}: ts must be an array of times in ms, got ${describeValue(ts)}`,
    );
  }
  if (ts.length === 0) return [0, 1];
  const dt = ts.length > 1 ? ts[1] - ts[0] : 1;
  return [ts[0], ts[ts.length - 1] + dt];
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** The Vega-Lite spec of a raster plot (exposed for tests and custom rendering). */
export function rasterSpec(
  ts: ArrayLike<number>,
  spikes: SpikeSource,
  options: RasterOptions = {},
): TopLevelSpec {
  const where = 'rasterPlot';
  const ev = toEvents(where, ts, spikes);
  const {
    title,
    xlabel = 'Time (ms)',
    ylabel = 'Neuron index',
    width = 800,
    height = 400,
    color = 'black',
    maxSpikes = 100_000,
  } = options;
  const [t0, t1] = options.timeRange ?? timeSpan(where, ts);
  if (!(t1 > t0)) throw new ArgumentError(`${where}: empty time range [${t0}, ${t1}]`);
  const count = ev.times.length;
  const stride = count > maxSpikes ? Math.ceil(count / maxSpikes) : 1;
  const values: { t: number; i: number }[] = [];
  for (let k = 0; k < count; k++) {
    const i = ev.indices[k];
    const t = ev.times[k];
    if (i % stride === 0 && t >= t0 && t <= t1) values.push({ t: round4(t), i });
  }
  const steps = Math.max(ts.length, 1);
  const dotW = Math.min(4, Math.max(1, (0.8 * width) / steps));
  const dotH = Math.min(4, Math.max(1, (0.8 * height) / Math.max(ev.size, 1)));
  const subtitle =
    stride > 1
      ? `${count.toLocaleString('en-US')} spikes; every ${stride}th neuron shown`
      : `${count.toLocaleString('en-US')} spikes`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title ?? 'Spike raster', subtitle, anchor: 'start' },
    width,
    height,
    background: 'white',
    data: { values },
    // aria: false drops a per-dot aria-label (most of the SVG's size); xOffset puts the dot of
    // step t in [t, t + dt) rather than centred on t.
    mark: {
      type: 'rect',
      width: dotW,
      height: dotH,
      xOffset: dotW / 2,
      color,
      opacity: 1,
      aria: false,
    },
    encoding: {
      x: {
        field: 't',
        type: 'quantitative',
        title: xlabel,
        scale: { domain: [t0, t1], nice: false, zero: false },
        axis: { grid: false },
      },
      y: {
        field: 'i',
        type: 'quantitative',
        title: ylabel,
        scale: { domain: [-0.5, Math.max(ev.size, 1) - 0.5], nice: false, zero: false },
        axis: { grid: false, tickMinStep: 1, format: 'd' },
      },
    },
    config: { font: 'DejaVu Sans, sans-serif', view: { stroke: '#888' } },
  };
}

/** Draw a spike raster; resolves to PNG bytes for a .png file or format 'png', else the SVG string. */
export function rasterPlot(
  ts: ArrayLike<number>,
  spikes: SpikeSource,
  options: RasterOptions & ({ file: `${string}.png` } | { format: 'png' }),
): Promise<Uint8Array>;
export function rasterPlot(
  ts: ArrayLike<number>,
  spikes: SpikeSource,
  options?: RasterOptions & { file?: `${string}.svg`; format?: 'svg' },
): Promise<string>;
export function rasterPlot(
  ts: ArrayLike<number>,
  spikes: SpikeSource,
  options?: RasterOptions,
): Promise<PlotOutput>;
export async function rasterPlot(
  ts: ArrayLike<number>,
  spikes: SpikeSource,
  options: RasterOptions = {},
): Promise<PlotOutput> {
  return renderPlot('rasterPlot', rasterSpec(ts, spikes, options), options);
}
