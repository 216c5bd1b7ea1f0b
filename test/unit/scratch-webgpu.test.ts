import { test } from 'node:test';
import { initBackend } from '../../src/engine/backends';
import { networkOps } from '../../src/engine/ops';
import { tf } from '../../src/engine/tf';
test('scratch', async () => {
  await initBackend('webgpu');
  const cases = [
      { name: 'same, 1 → 5 channels', inputs: [[1, 3, 4, 5, 1]], k: 3, cout: 5, padding: 'same' },
      { name: 'same, batch 2, 6 → 16', inputs: [[2, 3, 4, 3, 6]], k: 3, cout: 16, padding: 'same' },
      { name: 'valid, 3 → 8', inputs: [[1, 5, 4, 6, 3]], k: 3, cout: 8, padding: 'valid' },
      { name: 'valid, cropped concat 4 + 3 → 4', inputs: [[1, 7, 6, 8, 4], [1, 4, 3, 5, 3]], k: 3, cout: 4, padding: 'valid' },
      { name: '1×1×1, 16 → 3', inputs: [[1, 2, 3, 4, 16]], k: 1, cout: 3, padding: 'valid' },
  ] as const;
  for (const c of cases) {
    const xs = c.inputs.map((s) => tf.randomNormal([...s]) as tf.Tensor5D);
    const cin = c.inputs.reduce((a, s) => a + s[4], 0);
    const w = tf.randomNormal([c.k, c.k, c.k, cin, c.cout]) as tf.Tensor5D; const b = tf.zeros([c.cout]) as tf.Tensor1D;
    for (let i = 0; i < 2; i++) {
      let t0 = performance.now();
      const y = networkOps().conv(xs, w, b, c.padding); await y.data();
      const t1 = performance.now() - t0; t0 = performance.now();
      const g = tf.grads((...a: tf.Tensor[]) => tf.sum(networkOps().conv(a.slice(0, -1) as tf.Tensor5D[], a[a.length-1] as tf.Tensor5D, b, c.padding)))([...xs, w]);
      for (const t of g) await t.data();
      console.log(c.name, t1.toFixed(0), (performance.now() - t0).toFixed(0), 'ms');
    }
  }
});
