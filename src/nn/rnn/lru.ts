/**
 * LRUCell: the linear recurrent unit (Orvieto et al. 2023) in real arithmetic. A diagonal complex
 * recurrence λ = a·e^{ib} with a = exp(−exp(ν_log)) ∈ (0, 1), b = exp(θ_log), an input scale
 * c = exp(γ_log), complex projections B = B_re + i·B_im (dModel → dHidden), C = C_re + i·C_im
 * (dHidden → dModel) and a skip D:
 *
 *     h_re' = a·cos b·h_re − a·sin b·h_im + c⊙(B_re·x)
 *     h_im' = a·sin b·h_re + a·cos b·h_im + c⊙(B_im·x)
 *     y     = C_re·h_re' − C_im·h_im' + D⊙x                 (= Re(C·h') + D⊙x)
 *
 * Initialisation as in the paper: |λ| uniform on the ring [rMin, rMax] (ν_log = log(−½·log(u₁·
 * (rMax² − rMin²) + rMin²))), phase b = maxPhase·u₂, γ_log = log √(1 − |λ|²), B ~ N(0, 1/(2·dModel)),
 * C ~ N(0, 1/dHidden), D ~ N(0, 1). `update(x)` returns y [batch?, dModel] (not h).
 *
 * Fix against brainscale: it updates h_re first and then computes h_im from the already-updated
 * h_re, which is not the complex product λ·h. Here both parts use the old h.
 */
import { tf } from '../../backend/tf';
import { ArgumentError } from '../../errors';
import type { InitStateOptions } from '../../graph';
import { Normal, Uniform } from '../../init';
import { ParamState, type HiddenState } from '../../state';
import { Linear } from '../comm/Linear';
import { RNNCell, checkCount, type RNNCellOptions } from './cell';

/** Options of LRUCell. */
export interface LRUCellOptions extends Pick<RNNCellOptions, 'stateInit' | 'name'> {
  /** Smallest initial |λ| (0 ≤ rMin < rMax). Default 0. */
  rMin?: number;
  /** Largest initial |λ| (≤ 1). Default 1. */
  rMax?: number;
  /** Largest initial phase (radians, > 0). Default 6.28. */
  maxPhase?: number;
}

/** Uniform [0, 1) draws of length n as float64 numbers. */
function uniform01(n: number): Float64Array {
  const t = Uniform(0, 1).call([n]);
  const v = Float64Array.from(t.dataSync());
  t.dispose();
  return v;
}

/** The linear recurrent unit: a complex diagonal recurrence with complex input/output maps. */
export class LRUCell extends RNNCell {
  /** Number of complex hidden units. */
  readonly dHidden: number;
  /** log(−log|λ|) per hidden unit. */
  nu_log: ParamState;
  /** log(arg λ) per hidden unit. */
  theta_log: ParamState;
  /** log of the input normalisation per hidden unit. */
  gamma_log: ParamState;
  /** Real and imaginary parts of the input map dModel → dHidden (no bias). */
  B_re: Linear;
  B_im: Linear;
  /** Real and imaginary parts of the output map dHidden → dModel (no bias). */
  C_re: Linear;
  C_im: Linear;
  /** The skip weight [dModel]. */
  D: ParamState;
  /** Real part of the hidden state [batch?, dHidden]. */
  h_re!: HiddenState;
  /** Imaginary part of the hidden state [batch?, dHidden]. */
  h_im!: HiddenState;

  constructor(dModel: number, dHidden: number, options: LRUCellOptions = {}) {
    super(dModel, dModel, options);
    const owner = this.describe();
    this.dHidden = checkCount(owner, 'dHidden', dHidden);
    const rMin = options.rMin ?? 0;
    const rMax = options.rMax ?? 1;
    const maxPhase = options.maxPhase ?? 6.28;
    if (!(rMin >= 0 && rMin < rMax && rMax <= 1)) {
      throw new ArgumentError(`${owner}: need 0 ≤ rMin < rMax ≤ 1, got rMin=${rMin}, rMax=${rMax}`);
    }
    if (!(maxPhase > 0 && Number.isFinite(maxPhase))) {
      throw new ArgumentError(`${owner}: maxPhase must be a positive number, got ${maxPhase}`);
    }
    const u1 = uniform01(dHidden);
    const u2 = uniform01(dHidden);
    const nu = new Float32Array(dHidden);
    const theta = new Float32Array(dHidden);
    const gamma = new Float32Array(dHidden);
    for (let k = 0; k < dHidden; k++) {
      // |λ|² uniform on [rMin², rMax²); kept away from 0 so ν_log stays finite
      const r2 = Math.max(u1[k] * (rMax ** 2 - rMin ** 2) + rMin ** 2, 1e-30);
      nu[k] = Math.log(-0.5 * Math.log(r2));
      theta[k] = Math.log(maxPhase * Math.max(u2[k], 1e-12));
      gamma[k] = Math.log(Math.sqrt(Math.max(1 - r2, 1e-30)));
    }
    this.nu_log = new ParamState(tf.tensor1d(nu));
    this.theta_log = new ParamState(tf.tensor1d(theta));
    this.gamma_log = new ParamState(tf.tensor1d(gamma));
    const bInit = Normal(0, 1 / Math.sqrt(2 * dModel));
    const cInit = Normal(0, 1 / Math.sqrt(dHidden));
    this.B_re = new Linear(dModel, dHidden, { wInit: bInit, bInit: null });
    this.B_im = new Linear(dModel, dHidden, { wInit: bInit, bInit: null });
    this.C_re = new Linear(dHidden, dModel, { wInit: cInit, bInit: null });
    this.C_im = new Linear(dHidden, dModel, { wInit: cInit, bInit: null });
    this.D = new ParamState(Normal(0, 1).call([dModel]));
  }

  override initState(options: InitStateOptions = {}): void {
    this.h_re = this.makeHidden(this.h_re, 'h_re', options.batchSize, this.dHidden);
    this.h_im = this.makeHidden(this.h_im, 'h_im', options.batchSize, this.dHidden);
  }

  /** One step: x [batch?, dModel] → y [batch?, dModel]; updates h_re and h_im. */
  override update(x: tf.Tensor): tf.Tensor {
    const hRe = this.stateValue(this.h_re, 'h_re');
    const hIm = this.stateValue(this.h_im, 'h_im');
    const nuLog = this.nu_log.value;
    const thetaLog = this.theta_log.value;
    const gammaLog = this.gamma_log.value;
    const D = this.D.value;
    return tf.tidy(() => {
      const xt = this.checkInput(x, hRe, this.numIn);
      const a = tf.exp(tf.neg(tf.exp(nuLog)));
      const b = tf.exp(thetaLog);
      const c = tf.exp(gammaLog);
      const aCos = tf.mul(a, tf.cos(b));
      const aSin = tf.mul(a, tf.sin(b));
      const re = tf.add(
        tf.sub(tf.mul(aCos, hRe), tf.mul(aSin, hIm)),
        tf.mul(c, this.B_re.call(xt)),
      );
      const im = tf.add(
        tf.add(tf.mul(aSin, hRe), tf.mul(aCos, hIm)),
        tf.mul(c, this.B_im.call(xt)),
      );
      this.h_re.value = re;
      this.h_im.value = im;
      return tf.add(tf.sub(this.C_re.call(re), this.C_im.call(im)), tf.mul(xt, D));
    });
  }
}
