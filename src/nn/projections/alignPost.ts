/**
 * AlignPostProj: the align-post projection (spec §5.7): spikes → modules → comm → syn → out →
 * post, with the synapse sized like the post population.
 *
 *   new AlignPostProj({ comm, syn: Expon.desc({ tau: 5 }), out: COBA.desc({ E: 0 }), post })
 *
 * Merging mode (`syn` and `out` are describers): the synapse/output pair lives on the post
 * population, at most one per key `"{label}{syn.identifier} // {out.identifier}"`, so every
 * projection with the same synapse and output descriptions onto the same post shares ONE
 * conductance (the COBA network needs one Expon per post group and receptor, not one per
 * projection). The pair is created by the first such projection: the output becomes a current
 * input of post, and a before-update hook (`AlignPostHook`) steps the synapse and binds its
 * conductance to the output at the start of every `post.call`.
 * Instance mode (`syn` a synapse, `out` a SynOut): the projection owns them, registers the
 * output on post, and steps the synapse itself.
 *
 * Order within a step (merging): `proj.call(spikes)` queues comm(spikes) as a delta input of the
 * synapse; then `post.call(...)` runs the hook (decay g, add the queued jump, bind g), then
 * post integrates with out(V) = g·(E − V). A spike computed in step n is given to the
 * projection in step n+1 and changes V in that step's integration.
 */
import { ArgumentError, describeValue } from '../../errors';
import { Module, ParamDescriber } from '../../graph';
import { isPlainObject } from '../../state';
import type { Dynamics } from '../dynamics';
import { Synapse, isAlignPostClass } from '../synapses';
import { SynOut } from '../synouts';
import { Projection, type Comm, type ProjectionModule, type ProjectionOptions } from './projection';

export interface AlignPostProjOptions extends ProjectionOptions {
  /** Maps the (prefetched) presynaptic activity to post-sized increments. */
  comm: Comm;
  /** A describer of an align-post synapse (merging mode: `Expon.desc({ tau: 5 })`) or a synapse instance. */
  syn: ParamDescriber<Synapse> | Synapse;
  /** A describer of a SynOut (merging mode: `COBA.desc({ E: 0 })`) or a SynOut instance. */
  out: ParamDescriber<SynOut> | SynOut;
  /** The post population (a Dynamics, e.g. a LIF group). */
  post: Dynamics;
  /** Groups the output among post's current inputs (`sumCurrentInputs(..., label)`), and prefixes the merge key. */
  label?: string;
}

/** The before-update hook of a merged synapse/output pair: step the synapse, bind its output. */
export class AlignPostHook extends Module {
  constructor(
    readonly syn: Synapse,
    readonly out: SynOut,
  ) {
    super();
  }

  override update(): void {
    this.out.bindCond(this.syn.call());
  }
}

/** The align-post projection, with automatic merging of identical synapses per post group. */
export class AlignPostProj extends Projection {
  /** True when the synapse/output pair is shared on the post population (describer mode). */
  readonly merging: boolean;
  readonly inputChain: ProjectionModule[];
  readonly comm: Comm;
  readonly label: string | null;
  declare readonly post: Dynamics;
  declare readonly syn: Synapse;
  declare readonly out: SynOut;

  constructor(options: AlignPostProjOptions) {
    super(options?.name, 'AlignPostProj');
    if (options === null || typeof options !== 'object') {
      throw new ArgumentError(
        `${this.describe()}: expected an options object { comm, syn, out, post }, got ${describeValue(options)}`,
      );
    }
    const post = this.checkPost(options.post);
    this.comm = this.checkComm(options.comm, post.varshape, `post ${post.describe()}`);
    this.inputChain = this.checkModules(options.modules);
    if (options.label != null && typeof options.label !== 'string') {
      throw new ArgumentError(
        `${this.describe()}: label must be a string, got ${describeValue(options.label)}`,
      );
    }
    this.label = options.label ?? null;
    const { syn, out } = options;

    let pair: { syn: Synapse; out: SynOut };
    if (syn instanceof ParamDescriber) {
      if (!(out instanceof ParamDescriber)) {
        throw new ArgumentError(
          `${this.describe()}: syn is a describer (merging mode), so out must be a describer too (e.g. COBA.desc({ E: 0 })), got ${describeValue(out)}`,
        );
      }
      this.checkSynClass(syn);
      if (!out.describes(SynOut)) {
        throw new ArgumentError(
          `${this.describe()}: out must describe a SynOut (COBA, CUBA, MgBlock …), got ${out.toString()}`,
        );
      }
      this.merging = true;
      pair = this.mergedPair(syn as ParamDescriber<Synapse>, out as ParamDescriber<SynOut>, post);
    } else if (syn instanceof Synapse) {
      if (!(out instanceof SynOut)) {
        throw new ArgumentError(
          `${this.describe()}: syn is a synapse instance, so out must be a SynOut instance (e.g. new COBA({ E: 0 })), got ${describeValue(out)}`,
        );
      }
      this.checkSynClass(syn.constructor);
      this.checkSameShape(syn.varshape, post, `synapse ${syn.describe()}`);
      if (Object.values(post.currentInputs).includes(out)) {
        throw new ArgumentError(
          `${this.describe()}: this ${out.describe()} is already a current input of post ${post.describe()}; give each projection its own output, or use describers to share one conductance`,
        );
      }
      this.merging = false;
      post.addCurrentInput(this.name!, out, this.label ?? undefined);
      pair = { syn, out };
    } else {
      throw new ArgumentError(
        `${this.describe()}: syn must be an align-post synapse describer (Expon.desc({ tau: 5 })) or instance, got ${describeValue(syn)}`,
      );
    }
    // merged pairs belong to post (reached through its beforeUpdates); own pairs are children
    for (const key of ['post', 'syn', 'out'] as const) {
      const value = key === 'post' ? post : pair[key];
      Object.defineProperty(this, key, {
        value,
        enumerable: key !== 'post' && !this.merging,
        configurable: true,
      });
    }
  }

  /** The key of the merged pair on post: `"{label}{syn.identifier} // {out.identifier}"`. */
  static mergeKey(syn: ParamDescriber, out: ParamDescriber, label?: string | null): string {
    return `${label ?? ''}${syn.identifier} // ${out.identifier}`;
  }

  /**
   * Queue comm(x) on the synapse (x = the arguments threaded through `modules`); in instance
   * mode also step the synapse and bind its output. Returns nothing: the queued tensor belongs to
   * the synapse's input registry, which frees it when the synapse consumes it.
   */
  override update(...args: unknown[]): void {
    const x = this.threadInput(this.inputChain, args);
    const y = this.communicate(this.comm, x, this.post);
    this.syn.addDeltaInput(this.name!, y);
    if (!this.merging) this.out.bindCond(this.syn.call());
  }

  private checkSynClass(synOrCls: ParamDescriber | unknown): void {
    const cls = synOrCls instanceof ParamDescriber ? synOrCls.cls : synOrCls;
    if (!isAlignPostClass(cls)) {
      const what =
        synOrCls instanceof ParamDescriber
          ? synOrCls.toString()
          : `a ${(cls as { name?: string }).name} instance`;
      throw new ArgumentError(
        `${this.describe()}: syn must be an align-post synapse (Expon, Alpha, DualExpon: linear in its input, sized like post), got ${what}`,
      );
    }
  }

  private checkSameShape(varshape: readonly number[], post: Dynamics, what: string): void {
    const p = post.varshape;
    if (varshape.length !== p.length || varshape.some((d, i) => d !== p[i])) {
      throw new ArgumentError(
        `${this.describe()}: size mismatch: ${what} has varshape [${varshape.join(', ')}] but post ${post.describe()} has [${p.join(', ')}]`,
      );
    }
  }

  /** The shared pair for these describers on post, created (and registered) on first use. */
  private mergedPair(
    synDesc: ParamDescriber<Synapse>,
    outDesc: ParamDescriber<SynOut>,
    post: Dynamics,
  ): { syn: Synapse; out: SynOut } {
    const key = AlignPostProj.mergeKey(synDesc, outDesc, this.label);
    if (post.hasBeforeUpdate(key)) {
      const hook = post.getBeforeUpdate(key);
      if (!(hook instanceof AlignPostHook)) {
        throw new ArgumentError(
          `${this.describe()}: post ${post.describe()} has a before-update '${key}' that is not an align-post synapse`,
        );
      }
      return { syn: hook.syn, out: hook.out };
    }
    // a describer without positional arguments gets post's size; one with a size must match it
    const hasSize = synDesc.args.length > 0 && !isPlainObject(synDesc.args[0]);
    const syn = hasSize ? synDesc.build() : synDesc.build(post.varshape);
    this.checkSameShape(syn.varshape, post, `synapse ${synDesc.toString()}`);
    const out = outDesc.build();
    post.addCurrentInput(this.name!, out, this.label ?? undefined);
    post.addBeforeUpdate(key, new AlignPostHook(syn, out));
    return { syn, out };
  }
}
