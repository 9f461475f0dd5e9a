/** viz: raster and line plots to SVG (expected marks) and PNG (magic bytes), from Runner monitors. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { ArgumentError } from '../../src/errors';
import { SpikeEvents, Trace } from '../../src/nn/runner';
import { decimate, linePlot, rasterPlot, rasterSpec, svgToPng } from '../../src/viz';

const dir = mkdtempSync(join(tmpdir(), 'brainstate-viz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const ts = Float32Array.from({ length: 50 }, (_, k) => k * 0.1);
/** 100 neurons × 50 steps; neuron j spikes at steps j % 50 and (j * 7) % 50. */
function events(): SpikeEvents {
  const steps: number[] = [];
  const indices: number[] = [];
  for (let k = 0; k < 50; k++) {
    for (let j = 0; j < 100; j++) {
      if (j % 50 === k || (j * 7) % 50 === k) {
        steps.push(k);
        indices.push(j);
      }
    }
  }
  return new SpikeEvents(ts, [100], 0.1, Int32Array.from(steps), Int32Array.from(indices));
}
const countMarks = (svg: string, kind: string): number => {
  const group = svg.split(`class="mark-${kind} role-mark`)[1] ?? '';
  return (group.split('</g>')[0].match(/<path /g) ?? []).length;
};

describe('rasterPlot', () => {
  it('SVG with one rect per spike, axes titled in ms and neuron index', async () => {
    const ev = events();
    const svg = await rasterPlot(ts, ev, { title: 'E.spike' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(countMarks(svg, 'rect')).toBe(ev.count);
    expect(svg).toContain('Time (ms)');
    expect(svg).toContain('Neuron index');
    expect(svg).toContain('E.spike');
    expect(svg).toContain(`${ev.count} spikes`);
  });

  it('PNG written to a .png file starts with the PNG magic bytes', async () => {
    const file = join(dir, 'sub', 'raster.png');
    // a computed path is a plain string: the result is typed string | Uint8Array
    const png = (await rasterPlot(ts, events(), { file, title: 'raster' })) as Uint8Array;
    expect(Array.from(png.slice(0, 8))).toEqual(PNG_MAGIC);
    expect(Array.from(readFileSync(file).subarray(0, 8))).toEqual(PNG_MAGIC);
  });

  it('accepts dense rasters (tensor, Trace, nested arrays) and { times, indices }', async () => {
    const dense = events().toDense();
    const fromEvents = rasterSpec(ts, events());
    const t = tf.tensor(dense, [50, 100]);
    const specs = [
      rasterSpec(ts, t),
      rasterSpec(ts, new Trace(ts, [100], 0.1, dense)),
      rasterSpec(
        ts,
        Array.from({ length: 50 }, (_, k) => Array.from(dense.subarray(k * 100, (k + 1) * 100))),
      ),
      rasterSpec(ts, { times: events().times, indices: events().indices, size: 100 }),
    ];
    t.dispose();
    const points = (s: typeof fromEvents) =>
      (s.data as { values: { t: number; i: number }[] }).values.map((p) => `${p.t}:${p.i}`).sort();
    for (const s of specs) expect(points(s)).toEqual(points(fromEvents));
  });

  it('large rasters: 4000 neurons × 1 s (~80k spikes) render in seconds; above maxSpikes neurons are thinned', async () => {
    const T = 10_000;
    const n = 4000;
    const bigTs = Float32Array.from({ length: T }, (_, k) => k * 0.1);
    const steps = new Int32Array(80_000);
    const indices = new Int32Array(80_000);
    for (let k = 0; k < steps.length; k++) {
      steps[k] = Math.floor((k / steps.length) * T);
      indices[k] = (k * 7919) % n;
    }
    const ev = new SpikeEvents(bigTs, [n], 0.1, steps, indices);
    const t0 = performance.now();
    const png = await rasterPlot(bigTs, ev, { format: 'png', title: '80k spikes' });
    expect(Array.from(png.slice(0, 8))).toEqual(PNG_MAGIC);
    expect(performance.now() - t0).toBeLessThan(20_000);
    const thin = rasterSpec(bigTs, ev, { maxSpikes: 20_000 });
    const values = (thin.data as { values: { i: number }[] }).values;
    expect(values.length).toBeLessThanOrEqual(20_000);
    expect(values.every((p) => p.i % 4 === 0)).toBe(true);
    expect(JSON.stringify(thin.title)).toContain('every 4th neuron shown');
  });

  it('bad output names are ArgumentErrors', async () => {
    await expect(rasterPlot(ts, events(), { file: join(dir, 'x.jpg') })).rejects.toThrow(
      /must end in \.svg or \.png/,
    );
    await expect(
      rasterPlot(ts, events(), { file: join(dir, 'x.svg'), format: 'png' }),
    ).rejects.toThrow(ArgumentError);
    expect(() => rasterSpec(ts, 42 as never)).toThrow(/spikes must be a spike monitor/);
  });
});

describe('linePlot', () => {
  const V = new Trace(
    ts,
    [3],
    0.1,
    Float32Array.from({ length: 150 }, (_, q) => -60 + Math.floor(q / 3) * 0.2 + (q % 3)),
  );

  it('SVG with one line per plotted element, legend names and axis titles', async () => {
    const svg = await linePlot(ts, V, {
      plotIds: [0, 2],
      legend: ['V[0]', 'V[2]'],
      ylabel: 'V (mV)',
      title: 'membrane',
    });
    expect(countMarks(svg, 'line')).toBe(1); // each line is one path in its own mark group
    expect((svg.match(/class="mark-line role-mark/g) ?? []).length).toBe(2);
    for (const s of ['V[0]', 'V[2]', 'V (mV)', 'Time (ms)', 'membrane']) expect(svg).toContain(s);
  });

  it('one series from a Float32Array column, PNG to a file', async () => {
    const file = join(dir, 'v.png');
    const png = (await linePlot(ts, V.column(1), { file, ylabel: 'V (mV)' })) as Uint8Array;
    expect(Array.from(png.slice(0, 8))).toEqual(PNG_MAGIC);
    expect(readFileSync(file).length).toBe(png.length);
    await expect(linePlot(ts.subarray(1), V)).rejects.toThrow(
      /ts has 49 times but the values have 50 steps/,
    );
    await expect(linePlot(ts, V, { plotIds: [3] })).rejects.toThrow(/outside \[0, 3\)/);
  });

  it("decimation keeps every bucket's min and max (spikes survive)", () => {
    const y = Float64Array.from({ length: 10_000 }, (_, k) =>
      k === 5000 ? 30 : k === 7001 ? -90 : -60,
    );
    const kept = decimate(y, 100);
    expect(kept.length).toBeLessThanOrEqual(102);
    expect(kept).toContain(5000);
    expect(kept).toContain(7001);
    expect([...kept].sort((a, b) => a - b)).toEqual(kept);
  });
});

describe('svgToPng', () => {
  it('rasterises any SVG (for graph pictures) at the given scale', async () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10" fill="red"/><text x="1" y="9" font-size="8">ab</text></svg>';
    const png = await svgToPng(svg, { scale: 3 });
    expect(Array.from(png.slice(0, 8))).toEqual(PNG_MAGIC);
    // IHDR: width and height as big-endian uint32 at bytes 16 and 20
    const view = new DataView(png.buffer, png.byteOffset);
    expect([view.getUint32(16), view.getUint32(20)]).toEqual([60, 30]);
    await expect(svgToPng('not svg')).rejects.toThrow(ArgumentError);
  });
});
