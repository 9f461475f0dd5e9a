/**
 * DeltaProj and CurrentProj: projections without a synapse of their own (spec §5.7).
 * - DeltaProj: y = comm(x) is added to post's variable as a jump after its integration
 *   (`post.addDeltaInput(name, y, label)`), e.g. a delta-synapse recurrent SNN.
 * - CurrentProj: y = comm(x) is bound as the conductance of a SynOut registered as a current
 *   input of post at construction, so post integrates out(V) with it (align-pre chains: spikes
 *   → synapse on the pre side → comm → out → post).
 */
import { tf } from '../../backend/tf';
import { ArgumentError, describeValue } from '../../errors';
import { acquire, release } from '../../state';
import type { Dynamics } from '../dynamics';
import { SynOut } from '../synouts';
import { Projection, type Comm, type ProjectionModule, type ProjectionOptions } from './projection';

export interface DeltaProjOptions extends ProjectionOptions {
  /** Maps the (prefetched) input to post-sized jumps. */
  comm: Comm;
  /** The post population (a Dynamics). */
  post: Dynamics;
  /** Groups the jumps among post's delta inputs. */
  label?: string;
}

export interface CurrentProjOptions extends ProjectionOptions {
  /** Maps the (prefetched) input to post-sized conductances. */
  comm: Comm;
  /** The output turning the conductance into a current (e.g. `new CUBA()`). */
  out: SynOut;
  /** The post population (a Dynamics). */
  post: Dynamics;
  /** Groups the output among post's current inputs. */
  label?: string;
}

function checkOptions(options: unknown, where: string): void {
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError(`${where}: expected an options object, got ${describeValue(options)}`);
  }
}

function checkLabel(label: unknown, where: string): string | null {
  if (label != null && typeof label !== 'string') {
    throw new ArgumentError(`${where}: label must be a string, got ${describeValue(label)}`);
  }
  return label ?? null;
}

/** Adds comm(x) to post as a delta input (a jump after integration). */
export class DeltaProj extends Projection {
  readonly inputChain: ProjectionModule[];
  readonly comm: Comm;
  readonly label: string | null;
  declare readonly post: Dynamics;

  constructor(options: DeltaProjOptions) {
    super(options?.name, 'DeltaProj');
    checkOptions(options, this.describe());
    const post = this.checkPost(options.post);
    this.comm = this.checkComm(options.comm, post.varshape, `post ${post.describe()}`);
    this.inputChain = this.checkModules(options.modules);
    this.label = checkLabel(options.label, this.describe());
    Object.defineProperty(this, 'post', { value: post, enumerable: false, configurable: true });
  }

  /** Queue comm(x) as a delta input of post (which owns and frees it once added). */
  override update(...args: unknown[]): void {
    const y = this.communicate(this.comm, this.threadInput(this.inputChain, args), this.post);
    this.post.addDeltaInput(this.name!, y, this.label ?? undefined);
  }
}

/** Binds comm(x) as the conductance of `out`, a current input of post. */
export class CurrentProj extends Projection {
  readonly inputChain: ProjectionModule[];
  readonly comm: Comm;
  readonly out: SynOut;
  readonly label: string | null;
  declare readonly post: Dynamics;
  #bound: tf.Tensor | number | null = null;

  constructor(options: CurrentProjOptions) {
    super(options?.name, 'CurrentProj');
    checkOptions(options, this.describe());
    const post = this.checkPost(options.post);
    this.comm = this.checkComm(options.comm, post.varshape, `post ${post.describe()}`);
    this.inputChain = this.checkModules(options.modules);
    this.label = checkLabel(options.label, this.describe());
    if (!(options.out instanceof SynOut)) {
      throw new ArgumentError(
        `${this.describe()}: out must be a SynOut instance (e.g. new CUBA()), got ${describeValue(options.out)}`,
      );
    }
    this.out = options.out;
    Object.defineProperty(this, 'post', { value: post, enumerable: false, configurable: true });
    post.addCurrentInput(this.name!, this.out, this.label ?? undefined);
  }

  /**
   * Bind comm(x) as the output's conductance. The projection co-owns the bound tensor until the
   * next bind (so an eager step outside tf.tidy does not leak it); `resetState` releases it.
   */
  override update(...args: unknown[]): void {
    const y = this.communicate(this.comm, this.threadInput(this.inputChain, args), this.post);
    if (y instanceof tf.Tensor) acquire(y);
    this.releaseBound();
    this.#bound = y;
    this.out.bindCond(y);
  }

  /** Release the bound conductance and unbind the output. */
  override resetState(): void {
    this.releaseBound();
    this.out.unbindCond();
  }

  private releaseBound(): void {
    const old = this.#bound;
    this.#bound = null;
    if (old instanceof tf.Tensor) release(old);
  }
}
