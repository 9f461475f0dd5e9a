/** Pictures: spike rasters and line plots (Vega-Lite → SVG → PNG with resvg), and svgToPng for other pictures. */
export {
  rasterPlot,
  rasterSpec,
  type RasterOptions,
  type SpikeSource,
  type SpikeList,
} from './raster';
export { linePlot, lineSpec, decimate, type LineOptions, type SeriesSource } from './line';
export {
  svgToPng,
  vegaLiteToSvg,
  renderPlot,
  writeOutput,
  type OutputOptions,
  type PlotOutput,
  type PngOptions,
} from './render';
