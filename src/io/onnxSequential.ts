// ONNX in and out for sequential multi-layer CNNs (src/deep): Conv (any kernel, stride, symmetric
// zero padding, with or without bias), BatchNormalization (inference form: PyTorch's export with
// training=TrainingMode.PRESERVE), Relu, MaxPool / AveragePool (kernel = stride), Flatten, Gemm
// (+ bias) — the layers the sequential model has.
import type { onnx as OnnxNs } from "onnx-proto";
import { ValueError } from "../errors.js";
import type { LayerSpec } from "../deep/sequential.js";
import { planLayers } from "../deep/sequential.js";
import type { SequentialModel } from "../deep/train.js";
import { DOUBLE, FLOAT, INT64, int, ints, num, onnx, tensor, readInitializers, tensorValues } from "./onnxProto.js";
import { linearTensors, setLinearRows } from "./modelFile.js";

/**
 * Encodes a sequential model; weights W~ rows [w ; b] split into ONNX weight and bias tensors, named
 * l<layer>.weight / .bias unless `names` says otherwise (the one-hidden-layer CNN's conv.weight ...).
 */
export function encodeSequentialOnnx(model: SequentialModel, theta: Float64Array,
  options: { dtype?: "f32" | "f64"; names?: (layer: number, part: string) => string | undefined } = {}): Uint8Array {
  const dtype = options.dtype ?? "f32", name = (i: number, part: string) => options.names?.(i, part) ?? `l${i}.${part}`;
  const plan = planLayers(model.input, model.layers);
  if (theta.length !== plan.size) throw new ValueError(`encodeSequentialOnnx: params has length ${theta.length}, expected ${plan.size}`);
  const nodes: OnnxNs.INodeProto[] = [], inits: OnnxNs.ITensorProto[] = [];
  let x = "input";
  plan.layers.forEach((l, i) => {
    const y = i === plan.layers.length - 1 ? "output" : `t${i}`, s = l.spec;
    if (l.rows) {
      const { weight, bias } = linearTensors(l, theta), biased = (s as { bias?: boolean }).bias !== false, g = l.geometry;
      inits.push(tensor(name(i, "weight"), weight.shape, weight.values, dtype));
      if (biased) inits.push(tensor(name(i, "bias"), [l.rows], bias, dtype));
      const input = [x, name(i, "weight"), ...(biased ? [name(i, "bias")] : [])];
      if (g) {
        const pad = g.padH;
        nodes.push({ opType: "Conv", name: `l${i}`, input, output: [y], attribute: [ints("kernel_shape", [g.kh, g.kw]), ints("strides", [g.strideH, g.strideW]), ints("pads", [pad, pad, pad, pad])] });
      } else nodes.push({ opType: "Gemm", name: `l${i}`, input, output: [y], attribute: [int("transB", 1)] });
    } else if (s.type === "batchnorm") {
      const C = l.output.C, part = (k: number) => theta.slice(l.offset + k * C, l.offset + (k + 1) * C);
      const names = ["scale", "bias", "mean", "var"].map((k) => `l${i}.${k}`);
      names.forEach((name, k) => inits.push(tensor(name, [C], part(k), dtype)));
      nodes.push({ opType: "BatchNormalization", name: `l${i}`, input: [x, ...names], output: [y], attribute: [{ name: "epsilon", type: 1, f: s.eps ?? 1e-5 }] });
    } else if (s.type === "relu") nodes.push({ opType: "Relu", name: `l${i}`, input: [x], output: [y] });
    else if (s.type === "flatten") nodes.push({ opType: "Flatten", name: `l${i}`, input: [x], output: [y], attribute: [int("axis", 1)] });
    else if (s.type === "sum") {
      inits.push({ name: name(i, "axes"), dims: [2], dataType: INT64, int64Data: [2, 3] });
      nodes.push({ opType: "ReduceSum", name: `l${i}`, input: [x, name(i, "axes")], output: [y], attribute: [int("keepdims", 1)] });
    }
    else if (s.type === "maxpool" || s.type === "avgpool") {
      nodes.push({ opType: s.type === "maxpool" ? "MaxPool" : "AveragePool", name: `l${i}`, input: [x], output: [y], attribute: [ints("kernel_shape", [s.size, s.size]), ints("strides", [s.size, s.size])] });
    }
    x = y;
  });
  const elem = dtype === "f32" ? FLOAT : DOUBLE, d = model.input;
  const io = (name: string, dims: Array<number | string>): OnnxNs.IValueInfoProto => ({ name, type: { tensorType: { elemType: elem, shape: { dim: dims.map((v) => (typeof v === "number" ? { dimValue: v } : { dimParam: v })) } } } });
  return onnx.ModelProto.encode({
    irVersion: 8, producerName: "cnn-purify", opsetImport: [{ domain: "", version: 13 }],
    graph: { name: "sequential-cnn", node: nodes, initializer: inits, input: [io("input", ["N", d.C, d.H, d.W])], output: [io("output", ["N", plan.output.C])] },
  }).finish();
}

/** Decodes a sequential CNN; throws ValueError naming an unsupported op or attribute. */
export function decodeSequentialOnnx(bytes: Uint8Array, where = "onnx", override?: Map<string, Float64Array>): { model: SequentialModel; theta: Float64Array } {
  let m: OnnxNs.ModelProto;
  try { m = onnx.ModelProto.decode(bytes); } catch (e) { throw new ValueError(`${where}: not a valid ONNX file (${(e as Error).message})`); }
  const g = m.graph;
  if (!g?.node?.length) throw new ValueError(`${where}: the ONNX file has no graph`);
  const dims = g.input?.[0]?.type?.tensorType?.shape?.dim;
  if (!dims || dims.length !== 4 || !dims.slice(1).every((d) => num(d.dimValue) > 0)) throw new ValueError(`${where}: the input must be [N, C, H, W] with fixed C, H, W`);
  const input = { C: num(dims[1].dimValue), H: num(dims[2].dimValue), W: num(dims[3].dimValue) };
  const inits = readInitializers(g, where, override);
  // PyTorch's exporter shares equal initializers through Identity nodes (an init's running_var = its
  // BatchNorm weight, all ones): the output name reads the same tensor
  for (const n of g.node) {
    const source = n.opType === "Identity" ? inits.get(n.input?.[0] ?? "") : undefined;
    if (source && n.output?.[0]) inits.set(n.output[0], source);
  }
  const attr = (n: OnnxNs.INodeProto, k: string) => n.attribute?.find((a) => a.name === k);
  const attrInts = (n: OnnxNs.INodeProto, k: string) => attr(n, k)?.ints?.map(num);
  const init = (n: OnnxNs.INodeProto, i: number) => {
    const t = inits.get(n.input?.[i] ?? "");
    if (!t) throw new ValueError(`${where}: ${n.opType} "${n.name}": input ${i} is not an initializer`);
    return t;
  };
  const layers: LayerSpec[] = [], weights: Array<{ w: Float64Array; b: Float64Array } | null> = [];
  // nodes that only compute shapes (x.view(x.size(0), -1) exports Shape, Gather, Unsqueeze, Concat)
  const producer = new Map<string, OnnxNs.INodeProto>();
  for (const n of g.node) for (const o of n.output ?? []) producer.set(o, n);
  const constant = (name: string): Float64Array | null => {
    const t = inits.get(name);
    if (t) return t.values;
    const p = producer.get(name), v = p?.opType === "Constant" ? attr(p, "value")?.t : null;
    return v ? tensorValues(v, where).values : null;
  };
  /** True when `name` is a Reshape target meaning "flatten": [N or 0 or -1, -1], given or computed as concat(size(0), -1). */
  const flattenTarget = (name: string): boolean => {
    const c = constant(name);
    if (c) return c.length === 2 && c[1] === -1 && (c[0] === 0 || c[0] === -1 || c[0] > 0);
    const cat = producer.get(name);
    if (cat?.opType !== "Concat" || cat.input?.length !== 2) return false;
    const last = constant(cat.input[1]);
    const un = producer.get(cat.input[0]), gat = un?.opType === "Unsqueeze" ? producer.get(un.input?.[0] ?? "") : null;
    const shape = gat?.opType === "Gather" ? producer.get(gat.input?.[0] ?? "") : null, index = gat ? constant(gat.input?.[1] ?? "") : null;
    return !!last && last.length === 1 && last[0] === -1 && shape?.opType === "Shape" && !!index && index.length === 1 && index[0] === 0;
  };
  const SHAPE_ONLY = new Set(["Shape", "Constant", "Gather", "Unsqueeze", "Concat"]);
  for (const n of g.node) {
    const op = n.opType ?? "";
    if (op === "Conv") {
      const w = init(n, 1);
      if (w.dims.length !== 4) throw new ValueError(`${where}: Conv "${n.name}": only 2-D convolutions are supported (weight [${w.dims.join(", ")}])`);
      const st = attrInts(n, "strides") ?? [1, 1], pads = attrInts(n, "pads") ?? [0, 0, 0, 0];
      if (!pads.every((p) => p === pads[0])) throw new ValueError(`${where}: Conv "${n.name}": pads must be the same on every side`);
      const kernel: number | [number, number] = w.dims[2] === w.dims[3] ? w.dims[2] : [w.dims[2], w.dims[3]];
      const stride: number | [number, number] = st[0] === st[1] ? st[0] : [st[0], st[1]];
      const groups = num(attr(n, "group")?.i ?? 1);
      if (groups !== 1) throw new ValueError(`${where}: Conv "${n.name}": group = ${groups} (a ${w.dims[1] === 1 ? "depthwise" : "grouped"} convolution) is not supported`);
      if ((attrInts(n, "dilations") ?? [1, 1]).some((d) => d !== 1)) throw new ValueError(`${where}: Conv "${n.name}": dilation is not supported`);
      const biased = !!(n.input && n.input[2]);
      layers.push({ type: "conv", filters: w.dims[0], kernel, stride, padding: pads[0], ...(biased ? {} : { bias: false }) });
      weights.push({ w: w.values, b: biased ? init(n, 2).values : new Float64Array(w.dims[0]) });
    } else if (op === "BatchNormalization") {
      // the inference form: scale, B, input_mean, input_var initializers (PyTorch's PRESERVE export
      // of a model in eval mode); a training-mode node computes batch statistics instead
      if (num(attr(n, "training_mode")?.i ?? 0) !== 0 || (n.output?.length ?? 1) > 1) throw new ValueError(`${where}: BatchNormalization "${n.name}" is in training mode (batch statistics); export the model in eval mode (model.eval(), training=TrainingMode.PRESERVE)`);
      const parts = [1, 2, 3, 4].map((k) => init(n, k));
      const C = parts[0].values.length;
      if (parts.some((p) => p.values.length !== C)) throw new ValueError(`${where}: BatchNormalization "${n.name}": scale, B, mean and var must have one value per channel`);
      const eps = attr(n, "epsilon")?.f ?? 1e-5;
      // epsilon is stored as f32: read back as the f32 PyTorch wrote (1e-5 -> 9.99999974738e-6)
      layers.push({ type: "batchnorm", eps });
      const v = new Float64Array(4 * C);
      parts.forEach((p, k) => v.set(p.values, k * C));
      weights.push({ w: v, b: new Float64Array(0) });
    } else if (op === "Gemm" || op === "MatMul") {
      const w = init(n, 1), transB = op === "Gemm" ? num(attr(n, "transB")?.i ?? 0) : 0;
      const [units, inputs] = transB ? w.dims : [w.dims[1], w.dims[0]];
      const wt = new Float64Array(units * inputs);
      for (let u = 0; u < units; u++) for (let q = 0; q < inputs; q++) wt[u * inputs + q] = transB ? w.values[u * inputs + q] : w.values[q * units + u];
      const biased = op === "Gemm" && !!(n.input && n.input[2]);
      layers.push({ type: "dense", units, ...(biased ? {} : { bias: false }) });
      weights.push({ w: wt, b: biased ? init(n, 2).values : new Float64Array(units) });
    } else if (op === "Add") {
      // MatMul + Add: the bias of the dense layer just read
      const last = weights[weights.length - 1], spec = layers[layers.length - 1];
      const b = inits.get(n.input?.[1] ?? "") ?? inits.get(n.input?.[0] ?? "");
      if (!last || spec?.type !== "dense" || !b || b.values.length !== spec.units) throw new ValueError(`${where}: Add "${n.name}" is not the bias of a preceding MatMul`);
      for (let u = 0; u < spec.units; u++) last.b[u] += b.values[u];
      delete spec.bias;
    } else if (op === "Relu") { layers.push({ type: "relu" }); weights.push(null); }
    else if (op === "Flatten") { layers.push({ type: "flatten" }); weights.push(null); }
    else if (op === "Reshape") {
      if (!flattenTarget(n.input?.[1] ?? "")) throw new ValueError(`${where}: Reshape "${n.name}": only a flatten to [N, -1] (view(n, -1)) is supported`);
      layers.push({ type: "flatten" }); weights.push(null);
    } else if (op === "ReduceSum") {
      // a sum over all positions (the one-hidden-layer CNN's "sum" readout): axes [2, 3]
      const axes = Array.from(constant(n.input?.[1] ?? "") ?? attrInts(n, "axes") ?? []).map((a) => (a < 0 ? a + 4 : a)).sort();
      if (axes.length !== 2 || axes[0] !== 2 || axes[1] !== 3) throw new ValueError(`${where}: ReduceSum "${n.name}" over axes [${axes.join(", ")}]: only a sum over all positions (axes 2, 3) is supported`);
      layers.push({ type: "sum" }); weights.push(null);
      if (num(attr(n, "keepdims")?.i ?? 1) === 0) { layers.push({ type: "flatten" }); weights.push(null); }
    } else if (op === "GlobalAveragePool") {
      // average over the whole map: an average pooling of its size (square maps)
      const d = planLayers(input, layers).output;
      if (d.H !== d.W) throw new ValueError(`${where}: GlobalAveragePool "${n.name}" over a ${d.H}x${d.W} map: only square maps are supported`);
      layers.push({ type: "avgpool", size: d.H }); weights.push(null);
    } else if (SHAPE_ONLY.has(op)) {
      continue; // shape arithmetic: checked where a Reshape uses it
    }
    else if (op === "MaxPool" || op === "AveragePool") {
      const k = attrInts(n, "kernel_shape") ?? [], st = attrInts(n, "strides") ?? k;
      if (k.length !== 2 || k[0] !== k[1] || st[0] !== k[0] || st[1] !== k[1] || (attrInts(n, "pads") ?? [0]).some((p) => p !== 0)) {
        throw new ValueError(`${where}: ${op} "${n.name}": only square, non-overlapping pooling without padding is supported`);
      }
      layers.push({ type: op === "MaxPool" ? "maxpool" : "avgpool", size: k[0] }); weights.push(null);
    } else if (op !== "Identity") {
      throw new ValueError(`${where}: unsupported op ${op} ("${n.name}"); supported: Conv, BatchNormalization, Relu, MaxPool, AveragePool, GlobalAveragePool, ReduceSum (axes 2, 3), Flatten, Reshape (to [N, -1]), Gemm, MatMul (+ Add), Identity`);
    }
  }
  const plan = planLayers(input, layers);
  const theta = new Float64Array(plan.size);
  plan.layers.forEach((l, i) => {
    const wb = weights[i];
    if (!wb) return;
    if (l.spec.type === "batchnorm") {
      if (wb.w.length !== l.params + l.stats) throw new ValueError(`${where}: layer ${i} (batchnorm): ${wb.w.length / 4} channels, its input has ${l.output.C}`);
      theta.set(wb.w, l.offset);
      return;
    }
    const p = l.rowLength - 1;
    if (wb.w.length !== l.rows * p || wb.b.length !== l.rows) throw new ValueError(`${where}: layer ${i} (${l.spec.type}): weights have ${wb.w.length} values, expected ${l.rows} x ${p}`);
    setLinearRows(l, theta, wb.w, wb.b);
  });
  return { model: { input, layers }, theta };
}
