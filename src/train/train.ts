// Training, evaluation and the full-data gradient of the one-hidden-layer CNN: its boundary checks,
// then the one trainer of src/deep/train.ts on its plan (src/model/asSequential.ts). Parameters and
// masks go through the plan's layout and back, so callers keep [W~ ; beta].
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { OptionError, ShapeError, ValueError, checkFinite, checkOptionNames } from "../errors.js";
import type { Evaluation, OptimizerName, SequentialTrainOptions, TrainProgress, TrainResult } from "../deep/train.js";
import { evaluatePlan, planGradient, planTraining, trainPlan, updateMaskOf } from "../deep/train.js";
import type { PatchData } from "../model/data.js";
import { checkPatchData } from "../model/data.js";
import type { LossName } from "../model/loss.js";
import { LOSS_NAMES, checkTargets } from "../model/loss.js";
import { oneHiddenAsSequential } from "../model/asSequential.js";
import type { ModelShape } from "../model/shape.js";
import { layoutOf } from "../model/shape.js";

export type { Evaluation, OptimizerName, TrainProgress, TrainResult };

export interface TrainOptions extends Omit<SequentialTrainOptions, "frozen"> {
  /** Train beta too (default true); false keeps the readout at init, the theory's usual setting. */
  trainReadout?: boolean;
  /**
   * Per-parameter 0/1 mask (length P): only entries with 1 are updated (e.g. an attacker who touches a
   * few parameters). Not combined with weightDecay, which would move the masked entries too.
   */
  updateMask?: ArrayLike<number>;
}

const TRAIN_OPTIONS = ["loss", "optimizer", "epochs", "batchSize", "lr", "momentum", "weightDecay", "seed", "backend", "trainReadout", "updateMask", "onProgress"];

/** Checks data against the shape and params' length; returns the layout. */
function checkShapeAndData(where: string, shape: ModelShape, params: Float64Array, name: string, data: PatchData) {
  const layout = layoutOf(shape);
  checkPatchData(where, data);
  if (data.patches !== shape.patches || data.patchDim !== shape.patchDim) {
    throw new ShapeError(`${where}: data has ${data.patches} patches of dim ${data.patchDim}, the model expects ${shape.patches} of dim ${shape.patchDim}`);
  }
  if (params.length !== layout.size) throw new ShapeError(`${where}: ${name} has length ${params.length}, expected ${layout.size} parameters`);
  return layout;
}

const defaultLoss = (shape: ModelShape): LossName => (shape.outputs === 1 ? "mse" : "cross-entropy");

/** Trains from `init`; returns new parameters (init is not modified). */
export async function train(shape: ModelShape, init: Float64Array, data: PatchData, targets: ArrayLike<number>, options: TrainOptions = {}): Promise<TrainResult> {
  const where = "train";
  checkOptionNames(where, options, TRAIN_OPTIONS);
  const layout = checkShapeAndData(where, shape, init, "init", data);
  checkFinite(where, "init", init);
  const map = oneHiddenAsSequential(shape);
  if (options.updateMask !== undefined) {
    if (options.updateMask.length !== layout.size) throw new ShapeError(`${where}: updateMask has length ${options.updateMask.length}, expected ${layout.size} parameters`);
    if ((options.weightDecay ?? 0) > 0) throw new OptionError(`${where}: updateMask cannot be combined with weightDecay (decay would move the masked entries)`);
    if ((options.optimizer ?? "sgd") !== "sgd") throw new OptionError(`${where}: updateMask needs optimizer "sgd"`);
    for (let i = 0; i < layout.size; i++) {
      const v = options.updateMask[i];
      if (v !== 0 && v !== 1) throw new ValueError(`${where}: updateMask[${i}] = ${v}, expected 0 or 1`);
    }
  }
  const frozen = options.trainReadout === false ? [map.readoutLayer] : [];
  const seqMask = updateMaskOf(where, map.plan, options.updateMask && map.toSequential(options.updateMask), frozen);
  const settings = planTraining(where, map.plan, data.samples, targets, options, seqMask, { epochs: 100, loss: defaultLoss(shape) });
  const be = await resolveBackend(options.backend);
  const r = trainPlan(be, map.plan, map.toSequential(init), data.values, data.samples, targets, settings);
  return { ...r, params: map.fromSequential(r.params) };
}

/** The boundary checks evaluate() and gradient() share; returns what they derive from the inputs. */
function checkModelInputs(where: string, shape: ModelShape, params: Float64Array, data: PatchData, targets: ArrayLike<number>, options: { loss?: LossName; backend?: Backend | string }) {
  checkOptionNames(where, options, ["loss", "backend"]);
  checkShapeAndData(where, shape, params, "params", data);
  const loss: LossName = options.loss ?? defaultLoss(shape);
  if (!LOSS_NAMES.includes(loss)) throw new OptionError(`${where}: unknown loss "${loss}" (known: ${LOSS_NAMES.join(", ")})`);
  checkTargets(where, loss, targets, data.samples, shape.outputs);
  return { loss, map: oneHiddenAsSequential(shape) };
}

/** Loss (and accuracy for classifiers) of params on data. */
export async function evaluate(shape: ModelShape, params: Float64Array, data: PatchData, targets: ArrayLike<number>, options: { loss?: LossName; backend?: Backend | string } = {}): Promise<Evaluation> {
  const { loss, map } = checkModelInputs("evaluate", shape, params, data, targets, options);
  return evaluatePlan(await resolveBackend(options.backend), map.plan, map.toSequential(params), data.values, data.samples, targets, loss);
}

/** Full-data gradient of the mean loss at params (length P), computed in chunks. */
export async function gradient(shape: ModelShape, params: Float64Array, data: PatchData, targets: ArrayLike<number>, options: { loss?: LossName; backend?: Backend | string } = {}): Promise<Float64Array> {
  const { loss, map } = checkModelInputs("gradient", shape, params, data, targets, options);
  checkFinite("gradient", "params", params);
  const g = planGradient(await resolveBackend(options.backend), map.plan, map.toSequential(params), data.values, data.samples, targets, loss);
  return map.fromSequential(g);
}
