// The layer kinds of the sequential model, by spec type: one file each.
import type { LayerKind } from "./layer.js";
import type { BatchNormSpec } from "./batchnorm.js";
import { batchnorm } from "./batchnorm.js";
import { flatten } from "./flatten.js";
import type { ConvSpec, DenseSpec } from "./linear.js";
import { conv, dense } from "./linear.js";
import type { PoolSpec } from "./pool.js";
import { avgpool, maxpool } from "./pool.js";
import { relu } from "./relu.js";
import { sum } from "./sum.js";

export type LayerSpec = ConvSpec | BatchNormSpec | { type: "relu" } | PoolSpec | { type: "sum" } | { type: "flatten" } | DenseSpec;

export const LAYER_KINDS: { [K in LayerSpec["type"]]: LayerKind<Extract<LayerSpec, { type: K }>> } = {
  conv, batchnorm, relu, maxpool, avgpool, sum, flatten, dense,
};

/** The kind of a spec (its type checked by planLayers first). */
export const kindOf = (spec: LayerSpec) => LAYER_KINDS[spec.type] as LayerKind<LayerSpec>;
