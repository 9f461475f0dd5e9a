/**
 * LeakySpikeReadout (spec §5.8, brainscale §4): a layer of leaky integrate-and-fire readout
 * neurons driven through a weight, τ dV/dt = −V + x @ W (+ current inputs), spiking at V ≥ V_th
 * (argument (V − V_th)/V_th, ReluGrad surrogate by default) with a soft (V −= V_th) or hard reset.
 * It is an IF neuron group of `outSize` whose input passes through W first, so the step order,
 * resets, delta inputs and the `spike` state are those of every Neuron (see neurons/base.ts).
 *
 * Fix against brainstate: there the weight is [inSize[-1], outSize[-1]] with outSize = inSize, a
 * square weight that ties the number of readouts to the number of inputs. Here the readout takes
 * (inSize, outSize) as brainscale's does: W is [in, out] and the neurons number outSize.
 */
import { tf } from '../../backend/tf';
import { KeyNotFoundError } from '../../errors';
import type { Size } from '../../graph';
import { KaimingNormal } from '../../init';
import { ParamState } from '../../state';
import { paramTensor, type TensorInit } from '../comm/paramTensor';
import { IF } from '../neurons/lif';
import type { NeuronOptions, ParamValue, StateInit } from '../neurons/base';
import { projectInput } from './project';

/** Options of LeakySpikeReadout. */
export interface LeakySpikeReadoutOptions extends NeuronOptions {
  /** Membrane time constant τ (ms, > 0). Default 5. */
  tau?: ParamValue;
  /** Threshold V_th (mV, > 0). Default 1. */
  V_th?: ParamValue;
  /** Weight initializer for [in, out] (default KaimingNormal()). */
  wInit?: TensorInit;
  /** Initial V (mV): a number, tensor or initializer. Default 0. */
  V_initializer?: StateInit;
}

/** Spiking readout neurons: IF neurons of size outSize fed with x @ W. */
export class LeakySpikeReadout extends IF {
  /** The weight [in, out]. */
  weight: ParamState;

  constructor(inSize: Size, outSize: Size, options: LeakySpikeReadoutOptions = {}) {
    const { wInit, ...neuron } = options;
    super(outSize, { ...neuron, R: 1 });
    this.inSize = inSize;
    const nIn = this.inSize![this.inSize!.length - 1];
    const nOut = this.outSize![this.outSize!.length - 1];
    this.weight = new ParamState(
      paramTensor(wInit ?? KaimingNormal(), [nIn, nOut], `${this.describe()}: wInit`),
    );
  }

  /** The shape of one sample of the neurons (= outSize). */
  override get varshape(): number[] {
    return [...this.outSize!];
  }

  /** One step: input spikes (or rates) x [batch?, ..., in] → output spikes [batch?, ..., out]. */
  override update(x: tf.Tensor): tf.Tensor {
    if (this.V === undefined) {
      throw new KeyNotFoundError(
        `${this.describe()}: no state 'V' yet; call initAllStates(readout, { batchSize }) first`,
      );
    }
    const V = this.V.value;
    const W = this.weight.value;
    return tf.tidy(() => super.update(projectInput(this.describe(), x, W, V.shape.slice(0, -1))));
  }
}
