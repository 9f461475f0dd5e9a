import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import {
  availablePlatforms,
  defaultPlatform,
  detectNativeBackend,
  getPlatform,
  setPlatform,
  type Platform,
} from '../../src/backend/platform';
import { PlatformError } from '../../src/errors';

describe('platform', () => {
  it('starts on the platform named by BRAINSTATE_PLATFORM (wasm by default)', () => {
    expect(getPlatform()).toBe(defaultPlatform());
    expect(tf.getBackend()).toBe(process.env.BRAINSTATE_PLATFORM ?? 'wasm');
  });

  it('wasm and cpu are always available; tensorflow only when tfjs-node is installed', async () => {
    const av = await availablePlatforms();
    expect(av).toContain('wasm');
    expect(av).toContain('cpu');
    const native = await detectNativeBackend();
    expect(av.includes('tensorflow')).toBe(native !== null);
  });

  it('switches between wasm and cpu and computes the same', async () => {
    const start = getPlatform();
    const results: number[][] = [];
    for (const p of ['cpu', 'wasm'] as Platform[]) {
      await setPlatform(p);
      expect(getPlatform()).toBe(p);
      const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])));
      results.push(Array.from(y.dataSync()));
      y.dispose();
    }
    expect(results[0]).toEqual(results[1]);
    await setPlatform(start);
  });

  it('an invalid platform name is a PlatformError listing the valid ones', async () => {
    await expect(setPlatform('gpu' as Platform)).rejects.toThrow(PlatformError);
    await expect(setPlatform('gpu' as Platform)).rejects.toThrow(
      /unknown platform "gpu"; expected one of 'wasm', 'cpu'/,
    );
  });

  it("'tensorflow' without tfjs-node installed says what to install", async () => {
    if ((await detectNativeBackend()) !== null) return;
    await expect(setPlatform('tensorflow')).rejects.toThrow(
      /tfjs-node-gpu nor @tensorflow\/tfjs-node is installed/,
    );
    expect(getPlatform()).toBe(defaultPlatform());
  });

  it('webgl cannot start in Node and says so', async () => {
    await expect(setPlatform('webgl')).rejects.toThrow(PlatformError);
    await setPlatform(defaultPlatform());
  });

  it('a bad BRAINSTATE_PLATFORM is rejected by name', () => {
    const old = process.env.BRAINSTATE_PLATFORM;
    process.env.BRAINSTATE_PLATFORM = 'tpu';
    try {
      expect(() => defaultPlatform()).toThrow(/BRAINSTATE_PLATFORM: unknown platform "tpu"/);
    } finally {
      process.env.BRAINSTATE_PLATFORM = old;
    }
  });
});
