/**
 * The surrogate kernels in recorded programs: one `BstSpike[surrogate=…, params=…]` equation per
 * spike and one `BstStopGradient` equation, and the IR interpreter replays them bit for bit.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { evaluate, inputEnv, makeIR } from '../../src/compile';
import { HiddenState } from '../../src/state';
import { ReluGrad, SPIKE_KERNEL, STOP_GRADIENT_KERNEL, stopGradient } from '../../src/surrogate';

describe('surrogate kernels in the IR', () => {
  it('a spike is one BstSpike equation with its attrs; stopGradient is one BstStopGradient', () => {
    const V = new HiddenState(tf.tensor([0.5, 0.9, 1.2, -0.1]), { name: 'V' });
    const spk = new ReluGrad();
    const step = (I: tf.Tensor) => {
      const v = tf.add(V.value, tf.mul(0.1, tf.sub(I, V.value)));
      const spike = spk.call(tf.sub(v, 1));
      V.value = tf.sub(v, tf.mul(stopGradient(spike), 1));
      return spike;
    };
    const I = tf.tensor([1, 2, 3, 4]);
    const program = makeIR(step, { name: 'lif_step' })(I);
    const text = program.toString();
    expect(text).toContain('BstSpike[');
    expect(text).toContain('BstSpike[surrogate=ReluGrad, params=(0.3,1)]');
    expect(text).toContain('BstStopGradient');
    const spikes = program.equations.filter((e) => e.kernel === SPIKE_KERNEL);
    expect(spikes).toHaveLength(1);
    expect(spikes[0].attrs).toEqual({ surrogate: 'ReluGrad', params: [0.3, 1] });
    expect(spikes[0].body).toBeUndefined(); // a registered kernel, not a customGrad
    expect(program.equations.filter((e) => e.kernel === STOP_GRADIENT_KERNEL)).toHaveLength(1);

    // Replay through the interpreter equals eager execution bit for bit.
    for (let k = 0; k < 5; k++) {
      const x = tf.randomNormal([4], 1, 1, 'float32', k);
      const replay = evaluate(program, inputEnv(program, new Map([['0', x]])));
      const eager = step(x);
      const [vOut, spikeOut] = program.outputs.map((o) => replay.get(o.var)!);
      expect(Array.from(spikeOut.dataSync())).toEqual(Array.from(eager.dataSync()));
      expect(Array.from(vOut.dataSync())).toEqual(Array.from(V.value.dataSync()));
      tf.dispose([x, eager, ...replay.values()]);
    }
    V.dispose();
    I.dispose();
  });
});
