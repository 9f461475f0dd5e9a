/**
 * The recommended gain of a nonlinearity (as PyTorch's `calculate_gain`), a factor for the scale
 * of an initializer so activations keep their variance through the layer.
 */
import { ArgumentError, describeValue } from '../errors';

const UNIT_GAIN = [
  'linear',
  'conv1d',
  'conv2d',
  'conv3d',
  'conv_transpose1d',
  'conv_transpose2d',
  'conv_transpose3d',
  'sigmoid',
] as const;

/** The nonlinearities `calculateInitGain` knows. */
export const NONLINEARITIES = [...UNIT_GAIN, 'tanh', 'relu', 'leaky_relu', 'selu'] as const;
export type Nonlinearity = (typeof NONLINEARITIES)[number];

/**
 * linear, conv*, sigmoid → 1; tanh → 5/3; relu → √2; leaky_relu → √(2 / (1 + slope²)) with
 * `param` the negative slope (default 0.01); selu → 3/4.
 */
export function calculateInitGain(nonlinearity: Nonlinearity, param?: number): number {
  if ((UNIT_GAIN as readonly string[]).includes(nonlinearity)) return 1;
  switch (nonlinearity) {
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope)) {
        throw new ArgumentError(
          `calculateInitGain: param (the leaky_relu negative slope) must be a finite number, got ${describeValue(param)}`,
        );
      }
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new ArgumentError(
        `calculateInitGain: unknown nonlinearity ${describeValue(nonlinearity)}; accepted: ${NONLINEARITIES.map((n) => `'${n}'`).join(', ')}`,
      );
  }
}
