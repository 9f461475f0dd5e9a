/**
 * The rendering pipeline of every picture: a Vega-Lite spec → Vega → SVG (a headless vega View)
 * → PNG (resvg), and writing the result to a file whose extension (.svg / .png) picks the format.
 * vega, vega-lite and resvg are imported on first use, so importing the package stays cheap.
 */
import type { TopLevelSpec } from 'vega-lite';
import { ArgumentError, NotSupportedError, describeValue } from '../errors';

/** Output options shared by the plots. */
export interface OutputOptions {
  /** Write the picture here; a `.png` name gives PNG bytes, `.svg` an SVG string. */
  file?: string;
  /** The format when no file is given (default 'svg'). */
  format?: 'svg' | 'png';
  /** PNG pixels per SVG pixel (default 2). */
  scale?: number;
}

/** PNG bytes or an SVG string. */
export type PlotOutput = string | Uint8Array;

/** Options of svgToPng. */
export interface PngOptions {
  /** Pixels per SVG pixel (default 2). */
  scale?: number;
  /** Background colour (default 'white'; null for transparent). */
  background?: string | null;
}

/** Fonts resvg looks in, besides the system's (DejaVu ships with most Linux images). */
const FONT_DIRS = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/dejavu'];

/** Rasterise an SVG string to PNG bytes with resvg (Node). */
export async function svgToPng(svg: string, options: PngOptions = {}): Promise<Uint8Array> {
  if (typeof svg !== 'string' || !svg.includes('<svg')) {
    throw new ArgumentError(`svgToPng: expected an SVG string, got ${describeValue(svg)}`);
  }
  const { scale = 2, background = 'white' } = options;
  if (!(scale > 0 && Number.isFinite(scale))) {
    throw new ArgumentError(
      `svgToPng: scale must be a positive number, got ${describeValue(scale)}`,
    );
  }
  let resvg: typeof import('@resvg/resvg-js');
  try {
    resvg = await import('@resvg/resvg-js');
  } catch (e) {
    throw new NotSupportedError(
      `svgToPng: @resvg/resvg-js could not be loaded (${(e as Error).message}); PNG output needs Node with resvg`,
    );
  }
  const r = new resvg.Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    ...(background === null ? {} : { background }),
    font: {
      loadSystemFonts: true,
      fontDirs: FONT_DIRS,
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
  });
  return new Uint8Array(r.render().asPng());
}

/** Compile a Vega-Lite spec and render it to an SVG string, headless. */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The format an output asks for: the file's extension, else `format`, else SVG. */
export function outputFormat(where: string, options: OutputOptions): 'svg' | 'png' {
  const { file, format } = options;
  if (format !== undefined && format !== 'svg' && format !== 'png') {
    throw new ArgumentError(
      `${where}: format must be 'svg' or 'png', got ${describeValue(format)}`,
    );
  }
  if (file === undefined) return format ?? 'svg';
  if (typeof file !== 'string') {
    throw new ArgumentError(`${where}: file must be a path string, got ${describeValue(file)}`);
  }
  const ext = file.toLowerCase().match(/\.(svg|png)$/)?.[1] as 'svg' | 'png' | undefined;
  if (ext === undefined) {
    throw new ArgumentError(`${where}: file '${file}' must end in .svg or .png`);
  }
  if (format !== undefined && format !== ext) {
    throw new ArgumentError(`${where}: format '${format}' contradicts the file name '${file}'`);
  }
  return ext;
}

/** Render a spec in the requested format and write it to `options.file` if given. */
export async function renderPlot(
  where: string,
  spec: TopLevelSpec,
  options: OutputOptions,
): Promise<PlotOutput> {
  const format = outputFormat(where, options);
  const svg = await vegaLiteToSvg(spec);
  const out = format === 'png' ? await svgToPng(svg, { scale: options.scale }) : svg;
  if (options.file !== undefined) await writeOutput(options.file, out);
  return out;
}

/** Write a picture, creating the folder if needed. */
export async function writeOutput(file: string, data: PlotOutput): Promise<void> {
  const [{ mkdir, writeFile }, { dirname }] = await Promise.all([
    import('node:fs/promises'),
    import('node:path'),
  ]);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, data);
}
