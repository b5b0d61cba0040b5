// The empirical NTK of LeNet-5 (conv 6@5x5 pad 2, relu, maxpool, conv 16@5x5, relu, maxpool,
// dense 120-84-10 with biases; P = 61,706) on n MNIST images (n O = 10 n columns): composed per
// layer (src/deep/ntk.ts) against one VJP + JVP pair per column, the latter timed on a sample of
// columns and scaled (every column costs the same), in one process on one backend.
import type { Backend } from "../src/backend/types.js";
import { loadAll } from "../src/data/datasets.js";
import { SequentialLinearizedOperator } from "../src/deep/linearized.js";
import type { LayerSpec } from "../src/deep/sequential.js";
import { planLayers } from "../src/deep/sequential.js";
import { initSequential } from "../src/deep/train.js";

export const LENET5: LayerSpec[] = [
  { type: "conv", filters: 6, kernel: 5, padding: 2 }, { type: "relu" }, { type: "maxpool", size: 2 },
  { type: "conv", filters: 16, kernel: 5 }, { type: "relu" }, { type: "maxpool", size: 2 }, { type: "flatten" },
  { type: "dense", units: 120 }, { type: "relu" }, { type: "dense", units: 84 }, { type: "relu" }, { type: "dense", units: 10 },
];

export interface NtkBench {
  model: string; params: number; samples: number; columns: number;
  structuredSeconds: number; pairsSeconds: number; pairsColumnsTimed: number; ratio: number;
  layers: Array<{ type: string; kind: string; explicitGflop: number; contractionGflop: number }>;
}

export function benchNtk(be: Backend, samples: number, sampledColumns: number): NtkBench {
  const input = { C: 1, H: 28, W: 28 };
  const plan = planLayers(input, LENET5);
  const x = loadAll("mnist").images.subarray(0, samples * 784);
  const op = new SequentialLinearizedOperator(be, plan, Float64Array.from(x), samples, initSequential({ input, layers: LENET5 }, 1));
  const g = be.alloc(op.cols * op.cols);
  try {
    let t = performance.now();
    op.gram(g);
    const structuredSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    op.gramByPairs(op, null, g, sampledColumns);
    const pairsSeconds = (performance.now() - t) / 1000 * op.cols / sampledColumns;
    return {
      model: "LeNet-5", params: plan.size, samples, columns: op.cols, structuredSeconds, pairsSeconds, pairsColumnsTimed: sampledColumns,
      ratio: pairsSeconds / structuredSeconds,
      layers: op.ntkChoices.map((c) => ({ type: c.type, kind: c.kind, explicitGflop: c.explicitFlops / 1e9, contractionGflop: c.contractionFlops / 1e9 })),
    };
  } finally {
    be.free(g);
    op.dispose();
  }
}
