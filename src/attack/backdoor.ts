// A BadNets-style backdoor (Gu et al. 2017): a small bright square in a corner of the image, and a
// model fine-tuned so that inputs carrying it go to a target class. The attacker either touches a
// sparse set of parameters (the top fraction by gradient magnitude on the poisoned data, the
// contamination robust recovery is built for) or all of them (dense fine-tuning).
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { checkTrainable, evaluatePlan, planGradient, planOutputs, planTraining, trainPlan } from "../deep/train.js";
import { OptionError, ShapeError, ValueError, checkFinite, checkOptionNames } from "../errors.js";
import type { Network, NetworkInputs } from "../model/planView.js";
import { checkInputs, viewOf } from "../model/planView.js";

export interface TriggerSpec {
  /** Side of the square in pixels (default 4). */
  size?: number;
  /** Pixel value inside it (default 1, the brightest). */
  value?: number;
  /** Gap to the bottom-right corner (default 1). */
  margin?: number;
}

/** Copies of n images (n x C x H x W) with the trigger stamped into every channel. */
export function addTrigger(images: Float64Array, n: number, img: { channels: number; height: number; width: number }, t: TriggerSpec = {}): Float64Array {
  const { channels: C, height: H, width: W } = img;
  if (images.length !== n * C * H * W) throw new ShapeError(`addTrigger: images has length ${images.length}, expected ${n * C * H * W} (n ${n} x C ${C} x H ${H} x W ${W})`);
  const size = t.size ?? 4, value = t.value ?? 1, margin = t.margin ?? 1;
  if (!Number.isInteger(size) || !Number.isInteger(margin) || size < 1 || margin < 0 || size + margin > Math.min(H, W)) {
    throw new ValueError(`addTrigger: a ${size}-pixel square with margin ${margin} does not fit a ${H}x${W} image`);
  }
  const out = images.slice();
  for (let s = 0; s < n; s++) for (let c = 0; c < C; c++) {
    for (let y = H - margin - size; y < H - margin; y++) for (let x = W - margin - size; x < W - margin; x++) out[((s * C + c) * H + y) * W + x] = value;
  }
  return out;
}

/**
 * Fraction of triggered inputs whose true label is not the target that the model assigns to the
 * target class (the attack success rate). net: the one-hidden-layer CNN's shape (triggered: patch
 * data) or a sequential model (triggered: images); params in the caller's layout.
 */
export async function attackSuccessRate(net: Network, params: Float64Array, triggered: NetworkInputs, labels: ArrayLike<number>, target: number, backend?: Backend | string): Promise<number> {
  checkInputs("attackSuccessRate", net, triggered, "triggered");
  const view = viewOf(net), O = view.plan.output.C, n = triggered.samples;
  if (labels.length !== n) throw new ShapeError(`attackSuccessRate: ${labels.length} labels for ${n} triggered inputs`);
  const outputs = planOutputs(await resolveBackend(backend), view.plan, view.toPlan(params), triggered.values, n);
  let hit = 0, count = 0;
  for (let s = 0; s < n; s++) {
    if (labels[s] === target) continue;
    let best = 0;
    for (let o = 1; o < O; o++) if (outputs[s * O + o] > outputs[s * O + best]) best = o;
    count++;
    if (best === target) hit++;
  }
  return count ? hit / count : 0;
}

export interface BackdoorOptions {
  /** "sparse": only the top `fraction` of parameters by |gradient| change; "dense": all of them. */
  kind: "sparse" | "dense";
  target: number;
  /** Sparse attack: fraction of the parameters the attacker may change (default 0.02). */
  fraction?: number;
  /** Triggered copies are made of this fraction of the attacker's samples (default 0.2). */
  poisonFraction?: number;
  /** Stop once the attack succeeds on this fraction of the attacker's triggered inputs (default 0.97). */
  goal?: number;
  maxEpochs?: number;
  lr?: number;
  batchSize?: number;
  seed?: number;
  backend?: Backend | string;
}

export interface BackdoorResult {
  params: Float64Array;
  /** Indices of the parameters the attacker was allowed to change. */
  changed: Int32Array;
  epochs: number;
  /** Attack success on the attacker's own triggered inputs at the end. */
  trainSuccess: number;
}

/**
 * Fine-tunes `clean` on the attacker's data: every clean sample with its label, plus triggered
 * copies of the first poisonFraction of them labelled `target` (SGD, momentum 0.9, one seeded
 * shuffle per epoch). net: the one-hidden-layer CNN's shape (data, triggered: patch data) or a
 * sequential model (images); data and triggered hold the same n samples. One attack for the family:
 * it runs on the model's plan, parameters in the caller's layout.
 */
export async function backdoorAttack(net: Network, clean: Float64Array, data: NetworkInputs, labels: ArrayLike<number>, triggered: NetworkInputs, o: BackdoorOptions): Promise<BackdoorResult> {
  const where = "backdoorAttack";
  checkOptionNames(where, o, ["kind", "target", "fraction", "poisonFraction", "goal", "maxEpochs", "lr", "batchSize", "seed", "backend"]);
  if (o.kind !== "sparse" && o.kind !== "dense") throw new OptionError(`${where}: unknown kind "${o.kind}" (known: sparse, dense)`);
  const view = viewOf(net), { plan } = view, O = plan.output.C;
  checkTrainable(where, plan);
  if (O < 2) throw new ValueError(`${where}: the model has ${O} output; a backdoor needs a classifier (2 or more classes)`);
  if (!Number.isInteger(o.target) || o.target < 0 || o.target >= O) throw new ValueError(`${where}: target ${o.target} is not a class in [0, ${O})`);
  checkInputs(where, net, data);
  checkInputs(where, net, triggered, "triggered");
  if (triggered.samples !== data.samples) throw new ShapeError(`${where}: triggered must hold the same ${data.samples} samples as data`);
  if (clean.length !== view.index.length) throw new ShapeError(`${where}: clean has length ${clean.length}, expected ${view.index.length} parameters`);
  checkFinite(where, "clean", clean);
  const fraction = o.fraction ?? 0.02;
  if (!(fraction > 0 && fraction <= 1)) throw new ValueError(`${where}: fraction must be in (0, 1], got ${fraction}`);
  const poisonFraction = o.poisonFraction ?? 0.2;
  if (!(poisonFraction > 0 && poisonFraction <= 1)) throw new ValueError(`${where}: poisonFraction must be in (0, 1], got ${poisonFraction}`);
  const be = await resolveBackend(o.backend);
  const n = data.samples, np = Math.max(1, Math.round(poisonFraction * n)), per = data.values.length / n;
  const poisoned = new Float64Array((n + np) * per);
  poisoned.set(data.values);
  poisoned.set(triggered.values.subarray(0, np * per), n * per);
  const poisonedLabels = new Float64Array(n + np);
  for (let s = 0; s < n; s++) poisonedLabels[s] = labels[s];
  poisonedLabels.fill(o.target, n);
  const triggeredTest = triggered.values.subarray(0, np * per), targetLabels = new Float64Array(np).fill(o.target);

  // the attacker's choice is made in the caller's layout (a one-hidden model's plan has absent readout biases)
  let mask: Float64Array | null = null;
  let changed: Int32Array;
  if (o.kind === "sparse") {
    const g = view.fromPlan(planGradient(be, plan, view.toPlan(clean), poisoned, n + np, poisonedLabels, "cross-entropy"));
    ({ changed, mask } = largestEntries(g, fraction));
    mask = view.toPlan(mask);
  } else {
    changed = Int32Array.from({ length: clean.length }, (_, i) => i);
  }
  const step = (seed: number) => planTraining(where, plan, n + np, poisonedLabels, { epochs: 1, lr: o.lr ?? 0.02, momentum: 0.9, batchSize: o.batchSize ?? 32, seed }, mask, { epochs: 1, loss: "cross-entropy" });
  const r = await fineTuneUntil(view.toPlan(clean), o.goal ?? 0.97, o.maxEpochs ?? 40,
    async (params, epoch) => trainPlan(be, plan, params, poisoned, n + np, poisonedLabels, step((o.seed ?? 0) + epoch)).params,
    // the triggered copies are all labelled target, so accuracy on them is the success rate
    async (params) => evaluatePlan(be, plan, params, triggeredTest, np, targetLabels, "cross-entropy").accuracy!);
  return { params: view.fromPlan(r.params), changed, epochs: r.epochs, trainSuccess: r.success };
}

/** The sparse attacker's choice: the `fraction` of entries with the largest |gradient|, sorted, and their 0/1 mask. */
export function largestEntries(g: Float64Array, fraction: number): { changed: Int32Array; mask: Float64Array } {
  const order = Int32Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]));
  const changed = order.slice(0, Math.max(1, Math.round(fraction * g.length))).sort();
  const mask = new Float64Array(g.length);
  for (const i of changed) mask[i] = 1;
  return { changed, mask };
}

/**
 * The attacker's fine-tuning, for any model family: one epoch at a time (`epoch(params, e)`) until
 * `success(params)` reaches `goal` or `maxEpochs` have run.
 */
export async function fineTuneUntil(start: Float64Array, goal: number, maxEpochs: number,
  epoch: (params: Float64Array, e: number) => Promise<Float64Array>, success: (params: Float64Array) => Promise<number>): Promise<{ params: Float64Array; epochs: number; success: number }> {
  let params = start, epochs = 0, rate = 0;
  while (epochs < maxEpochs) {
    params = await epoch(params, epochs);
    epochs++;
    rate = await success(params);
    if (rate >= goal) break;
  }
  return { params, epochs, success: rate };
}
