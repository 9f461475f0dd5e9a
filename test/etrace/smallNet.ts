/**
 * The small model of the fused-kernel and jit tests of the learners: h ← 0.7 h + [x, relu(h)] W + b
 * (an etrace Linear with a bias) and a leaky readout r ← 0.8 r + relu(h) V; and a copy of every
 * trace tensor of a learner, in a fixed order.
 */
import { tf } from '../../src/backend/tf';
import { Module, type InitStateOptions } from '../../src/graph';
import * as random from '../../src/random';
import { HiddenState } from '../../src/state';
import type { ETraceVjpAlgorithm } from '../../src/etrace/algorithms';
import { ETraceParam } from '../../src/etrace/params';
import { MatMulOp } from '../../src/etrace/ops';

export const NI = 5;
export const NH = 6;
export const B = 3;

export class Net extends Module {
  W: ETraceParam;
  V: ETraceParam;
  h!: HiddenState;
  r!: HiddenState;
  constructor() {
    super();
    this.W = new ETraceParam(
      { weight: random.normal(0, 0.4, [NI + NH, NH]), bias: random.normal(0, 0.2, [NH]) },
      new MatMulOp(),
    );
    this.V = new ETraceParam({ weight: random.normal(0, 0.4, [NH, 2]) }, new MatMulOp());
  }
  /** New states the first time, then the same objects with new values (as the nn neurons do). */
  override initState(o: InitStateOptions = {}): void {
    const b = o.batchSize ?? B;
    const h = tf.zeros([b, NH]);
    const r = tf.zeros([b, 2]);
    if (this.h instanceof HiddenState) this.h.reinitialize(h);
    else this.h = new HiddenState(h);
    if (this.r instanceof HiddenState) this.r.reinitialize(r);
    else this.r = new HiddenState(r);
  }
  override update(x: tf.Tensor): tf.Tensor {
    const y = this.W.execute(tf.concat([x, tf.relu(tf.mul(this.h.value, 1))], -1));
    this.h.value = tf.add(tf.mul(this.h.value, 0.7), y);
    const s = tf.relu(this.h.value);
    this.r.value = tf.add(tf.mul(this.r.value, 0.8), this.V.execute(s));
    return this.r.value;
  }
}

/** Copies of the learner's traces of W and V (D-RTRL slots, ES f̄ and x̄), in a fixed order. */
export function snapshotTraces(alg: ETraceVjpAlgorithm, net: Net): Float32Array[] {
  const out: Float32Array[] = [];
  for (const p of [net.W, net.V]) {
    for (const e of alg.getEtraceOf(p)) {
      const ts = [...(e.trace ?? []).flatMap((tr) => Object.values(tr)), e.f, e.x];
      for (const t of ts) if (t) out.push(Float32Array.from(t.dataSync()));
    }
  }
  return out;
}

/** max |a − b| / (10⁻³ + |b|). */
export function maxRel(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++)
    m = Math.max(m, Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i])));
  return m;
}
