// Training, evaluation and the full-data gradient of any CNN of the one model family (the
// one-hidden-layer CNN's shape or a sequential model): their boundary checks, then the one trainer of
// src/deep/train.ts on the model's plan (src/model/planView.ts). Parameters and masks go through the
// plan's layout and back, so callers keep theirs ([W~ ; beta] for the one-hidden-layer CNN).
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { OptionError, ShapeError, ValueError, checkFinite, checkOptionNames } from "../errors.js";
import type { Evaluation, OptimizerName, SequentialTrainOptions, TrainProgress, TrainResult } from "../deep/train.js";
import { checkTrainable, evaluatePlan, planGradient, planTraining, trainPlan, updateMaskOf } from "../deep/train.js";
import type { LossName } from "../model/loss.js";
import { LOSS_NAMES, checkTargets } from "../model/loss.js";
import type { Network, NetworkInputs, PlanView } from "../model/planView.js";
import { checkInputs, isSequential, viewOf } from "../model/planView.js";

export type { Evaluation, OptimizerName, TrainProgress, TrainResult };

export interface TrainOptions extends SequentialTrainOptions {
  /** One-hidden-layer CNN: train beta too (default true); false keeps the readout at init, the theory's usual setting. */
  trainReadout?: boolean;
}

const TRAIN_OPTIONS = ["loss", "optimizer", "epochs", "batchSize", "lr", "momentum", "weightDecay", "seed", "backend", "frozen", "trainReadout", "updateMask", "onProgress"];

/** Checks inputs against the network and params' length; returns n. */
function checkNetwork(where: string, net: Network, view: PlanView, params: Float64Array, name: string, data: NetworkInputs): number {
  checkInputs(where, net, data);
  if (params.length !== view.index.length) throw new ShapeError(`${where}: ${name} has length ${params.length}, expected ${view.index.length} parameters`);
  return data.samples;
}

const defaultLoss = (view: PlanView): LossName => (view.plan.output.C === 1 ? "mse" : "cross-entropy");

/**
 * Trains from `init` (not modified) on n inputs: patch data for the one-hidden-layer CNN, images
 * (n x C x H x W) for a sequential model; targets are n labels (or n x O reals for mse). Defaults:
 * SGD with momentum 0.9, lr 0.05, full batches, cross-entropy (mse for one output), 100 epochs for
 * the one-hidden-layer CNN and 20 for a sequential model.
 */
export async function train(net: Network, init: Float64Array, data: NetworkInputs, targets: ArrayLike<number>, options: TrainOptions = {}): Promise<TrainResult> {
  const where = "train";
  checkOptionNames(where, options, TRAIN_OPTIONS);
  const view = viewOf(net, { trainedReadout: options.trainReadout, frozen: options.frozen }, where, "trainReadout");
  const n = checkNetwork(where, net, view, init, "init", data);
  checkFinite(where, "init", init);
  checkTrainable(where, view.plan);
  const { updateMask } = options;
  if (updateMask) {
    if (updateMask.length !== init.length) throw new ShapeError(`${where}: updateMask has length ${updateMask.length}, expected ${init.length} parameters`);
    for (let i = 0; i < init.length; i++) if (updateMask[i] !== 0 && updateMask[i] !== 1) throw new ValueError(`${where}: updateMask[${i}] = ${updateMask[i]}, expected 0 or 1`);
  }
  const mask = updateMaskOf(view.plan, updateMask && view.toPlan(updateMask), view.frozen);
  const settings = planTraining(where, view.plan, n, targets, options, mask, { epochs: isSequential(net) ? 20 : 100, loss: defaultLoss(view) });
  const r = trainPlan(await resolveBackend(options.backend), view.plan, view.toPlan(init), data.values, n, targets, settings);
  return { ...r, params: view.fromPlan(r.params) };
}

/** The boundary checks evaluate() and gradient() share; returns what they derive from the inputs. */
function checkModelInputs(where: string, net: Network, params: Float64Array, data: NetworkInputs, targets: ArrayLike<number>, options: { loss?: LossName; backend?: Backend | string }) {
  checkOptionNames(where, options, ["loss", "backend"]);
  const view = viewOf(net);
  checkNetwork(where, net, view, params, "params", data);
  const loss: LossName = options.loss ?? defaultLoss(view);
  if (!LOSS_NAMES.includes(loss)) throw new OptionError(`${where}: unknown loss "${loss}" (known: ${LOSS_NAMES.join(", ")})`);
  checkTargets(where, loss, targets, data.samples, view.plan.output.C);
  return { loss, view };
}

/** Loss (and accuracy for classifiers) and outputs of params on n inputs. */
export async function evaluate(net: Network, params: Float64Array, data: NetworkInputs, targets: ArrayLike<number>, options: { loss?: LossName; backend?: Backend | string } = {}): Promise<Evaluation> {
  const { loss, view } = checkModelInputs("evaluate", net, params, data, targets, options);
  return evaluatePlan(await resolveBackend(options.backend), view.plan, view.toPlan(params), data.values, data.samples, targets, loss);
}

/** Full-data gradient of the mean loss at params (length P), computed in chunks. */
export async function gradient(net: Network, params: Float64Array, data: NetworkInputs, targets: ArrayLike<number>, options: { loss?: LossName; backend?: Backend | string } = {}): Promise<Float64Array> {
  const { loss, view } = checkModelInputs("gradient", net, params, data, targets, options);
  checkFinite("gradient", "params", params);
  const g = planGradient(await resolveBackend(options.backend), view.plan, view.toPlan(params), data.values, data.samples, targets, loss);
  return view.fromPlan(g);
}
