/**
 * The surrogate registry: how the gradient of the `BstSpike` kernel finds the surrogate
 * derivative g(x) from nothing but the kernel's attrs (`surrogate` name and `params`). Every
 * surrogate that runs the kernel is remembered here by (name, params); built-in classes also
 * register a factory, so a BstSpike equation run by name (IR replay, `engine.runKernel`) finds
 * its surrogate even if no instance with those params was made. The maps live on `globalThis`
 * because tfjs's kernel and gradient registries do: when this module is evaluated again in the
 * same process (test isolation), the gradient registered the first time still sees one registry.
 * One instance is kept per distinct (name, params): a few small objects, unless parameters are
 * swept through very many values.
 */
import { ArgumentError, NotSupportedError } from '../errors';
import type { Surrogate } from './base';

/** Builds a surrogate from its parameters, in the order of its `paramNames`. */
export type SurrogateFactory = (params: readonly number[]) => Surrogate;

interface RegistryState {
  readonly factories: Map<string, SurrogateFactory>;
  readonly instances: Map<string, Surrogate>;
}

const REGISTRY_KEY = Symbol.for('brainstate-ts.surrogate.registry');

function state(): RegistryState {
  const g = globalThis as unknown as Record<symbol, RegistryState | undefined>;
  let s = g[REGISTRY_KEY];
  if (s === undefined) {
    s = { factories: new Map(), instances: new Map() };
    g[REGISTRY_KEY] = s;
  }
  return s;
}

/** The lookup key of a surrogate: its class name and parameter values. */
export function surrogateKey(name: string, params: readonly number[]): string {
  return `${name}(${params.join(',')})`;
}

/**
 * Make surrogates named `name` constructible from BstSpike attrs alone. Built-in classes are
 * registered on import; a custom subclass only needs this if its BstSpike equations must run
 * by name before any instance of it has been called. A later registration replaces an earlier one.
 */
export function registerSurrogate(name: string, factory: SurrogateFactory): void {
  state().factories.set(name, factory);
}

/**
 * Remember `s` so the BstSpike gradient can find it by (name, params). Two different classes
 * with the same name and params would be indistinguishable in the IR: that is an error.
 */
export function rememberSurrogate(s: Surrogate): void {
  const { instances } = state();
  const key = s.registryKey;
  const known = instances.get(key);
  if (known === s) return;
  if (known === undefined) {
    instances.set(key, s);
    return;
  }
  if (known.constructor !== s.constructor) {
    throw new ArgumentError(
      `surrogate ${s.identifier}: another class is also named ${s.name}; ` +
        `surrogates are identified by class name and parameters, so give the class a unique name`,
    );
  }
}

/** The surrogate a BstSpike equation with these attrs stands for. */
export function resolveSurrogate(name: string, params: readonly number[]): Surrogate {
  const { instances, factories } = state();
  const key = surrogateKey(name, params);
  const known = instances.get(key);
  if (known !== undefined) return known;
  const factory = factories.get(name);
  if (factory === undefined) {
    throw new NotSupportedError(
      `BstSpike gradient: no surrogate named ${JSON.stringify(name)} is known; call an instance ` +
        `of it once (surrogate.call(x)) or registerSurrogate('${name}', factory) first`,
    );
  }
  const made = factory(params);
  instances.set(key, made);
  return made;
}
