/**
 * The embedded CSR wasm binary is the current WAT compiled by wabt (so the text in
 * csrWasmSource.ts is the code that runs), and on the wasm platform the kernels run it on
 * tfjs's own heap: the kernel reads its inputs in place and its output is a tfjs tensor.
 */
import wabtInit from 'wabt';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf';
import { getPlatform } from '../../src/backend/platform';
import { CSR_WAT } from '../../src/nn/comm/csrWasmSource';
import { CSR_WASM_BASE64 } from '../../src/nn/comm/csrWasmBinary';
import { csrKernelImplementation, csrMatMul, setWasmCSRMode } from '../../src/nn/comm';
import { FixedProb } from '../../src/nn/connectivity';

describe('the CSR wasm module', () => {
  it('is the WAT source compiled by wabt 1.0.39 (simd, bulk memory)', async () => {
    const wabt = await wabtInit();
    const mod = wabt.parseWat('csr.wat', CSR_WAT, { simd: true, bulk_memory: true });
    try {
      mod.validate();
      const base64 = Buffer.from(mod.toBinary({}).buffer).toString('base64');
      if (base64 !== CSR_WASM_BASE64) {
        throw new Error(
          `src/nn/comm/csrWasmBinary.ts is stale; set CSR_WASM_BASE64 to:\n'${base64}'`,
        );
      }
    } finally {
      mod.destroy();
    }
  });

  it.runIf(getPlatform() === 'wasm')(
    'runs in place on the tfjs heap and agrees bit for bit with the JS loops',
    () => {
      expect(csrKernelImplementation()).toBe('wasm module on the tfjs heap');
      const conn = FixedProb(0.1, { seed: 1 }).build(300, 200);
      const indptr = tf.tensor1d(conn.indptr, 'int32');
      const indices = tf.tensor1d(conn.indices, 'int32');
      const dev = { nPre: 300, nPost: 200, indptr, indices };
      const x = tf.tensor2d(
        Float32Array.from({ length: 600 }, (_, i) => ((i * 7919) % 13 === 0 ? (i % 5) - 2 : 0)),
        [2, 300],
      );
      const w = tf.tensor1d(Float32Array.from({ length: conn.nnz }, (_, k) => Math.sin(k)));
      const run = () =>
        tf.tidy(() => {
          const [dx, dw] = tf.grads((xs: tf.Tensor, ws: tf.Tensor) =>
            tf.sum(tf.square(csrMatMul(xs, dev, ws))),
          )([x, w]);
          const y = csrMatMul(x, dev, w);
          return [y, dx, dw].map((t) => Array.from(t.dataSync()));
        });
      const viaModule = run();
      const previous = setWasmCSRMode('js');
      expect(csrKernelImplementation()).toBe('JS loops on wasm heap views');
      const viaJs = run();
      setWasmCSRMode(previous);
      expect(viaModule).toEqual(viaJs);
      tf.dispose([indptr, indices, x, w]);
    },
  );
});
