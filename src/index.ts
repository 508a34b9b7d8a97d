// nablax: the public library API. Tensors and autodiff, ops, layers and the model zoo, training, model files,
// and the ∇x API that attacks and analyses are built on.
export { Tensor, type DType, type Shape } from './engine/tensor.js';
export { grad, noGrad, apply, type Op } from './engine/tape.js';
export { Rng } from './engine/random.js';
export { gradcheck, type GradCheckResult } from './engine/gradcheck.js';
export { kernels, useKernels, type Kernels } from './engine/kernels/kernels.js';
export { referenceKernels } from './engine/kernels/reference.js';
export * from './engine/ops/index.js';

export { Layer, type SpecBase } from './layers/layer.js';
export { allLayers, type LayerSpec, type LayerType, type LayerTypeName } from './layers/layer-types.js';
// every layer class and its spec type, file by file: a new layer in one of these files is public without an edit here
export * from './layers/dense.js';
export * from './layers/conv2d.js';
export * from './layers/pool.js';
export * from './layers/activations.js';
export * from './layers/dropout.js';
export { BatchNorm, enableAuxBatchNorm, withAuxBatchNorm, hasAuxBatchNorm, type BatchNormState } from './layers/batchnorm.js';
export { Sequential, type ModelSpec } from './layers/sequential.js';
export { WindowedForward } from './layers/windowed.js';
export { residentParameters } from './layers/resident.js';
export { buildModel, buildLayer } from './layers/spec.js';
export { zooSpec, zooNames, type ZooName } from './layers/zoo.js';
export { initParams, type InitScheme } from './layers/init.js';

export { loadDataset, loadMnistData, loadMnistPackage, loadIdxDir, readIdx, parseIdx, subset, shuffled, type Dataset } from './data/datasets.js';
export { getBatch, type Batch } from './data/batches.js';
export { train, trainingStep, crossEntropyObjective, recyclableObjective, type Objective, type TrainOptions, type EpochRecord } from './train/loop.js';
export { evaluate, evaluateAsync, type Evaluation, type EvaluateOptions } from './train/evaluate.js';
export { argmax, inEvalMode, predict } from './layers/predict.js';
export { SGD, Adam, makeOptimizer, type Optimizer } from './train/optimizers.js';
export { saveCheckpoint, loadCheckpoint } from './train/checkpoint.js';

export { saveModel, loadModel, encodeModel, decodeModel, type LoadedModel, type LoadModelOptions } from './io/model-file.js';
export { readSafetensors, writeSafetensors, encodeSafetensors, decodeSafetensors } from './io/safetensors.js';
export { writeFileAtomic } from './io/atomic.js';

export { inputGradient, type InputGradient, type InputGradientOptions, type LayerTrace } from './attacks/input-gradient.js';
export { Canvas, renderGrid, gray, diverging, heat } from './report/png.js';
export { renderGradientFigure } from './report/gradient-figure.js';

// every attack, its records (whiteBoxAttacks, blackBoxAttacks), settings, losses and helpers: a new attack listed in
// attacks/index.ts or attacks/black-box.ts is public without an edit here
export * from './attacks/index.js';
export * from './attacks/black-box.js';
export { evaluateAttack, evaluateAttackSweep, type AttackMetrics, type AttackExample, type EvaluateSweepOptions } from './analysis/attack-evaluation.js';
export { lineChartSvg, scatterChartSvg, saveSvg } from './report/plot.js';
export { adversarialGrid, targetGrid } from './report/attack-figures.js';

export { unitLinearity, networkLinearity, networkLinearityAsync } from './analysis/linear.js';
export { fgsmSweep, type SweepResult } from './analysis/sweep.js';
export { sweepPlotSvg, nScalingPlotSvg } from './report/linear-figures.js';
export { randomNScaling, trainedNScaling, resizeDataset, type NScalingPoint } from './analysis/n-scaling.js';
export { traceExample, traceToJson, chainRule, type Trace } from './analysis/trace.js';
export { traceFigure } from './report/trace-figure.js';
export { goodfellowObjective, augmentObjective, pgdObjective, fastObjective, goodfellowLoss, augmentLoss, adversarialLoss, fgsmExample, pgdExample, fastExample } from './train/adversarial.js';
export { advpropObjective, advpropLoss, type AdvpropOptions } from './train/advprop.js';
export { OverfittingGuard, pgdAccuracy, type GuardReport, type GuardPoint } from './train/guard.js';
export { tradesObjective, tradesLoss, tradesExample, klDivergence, tradesOps, type TradesOptions } from './train/trades.js';
export { martObjective, martLoss, martExample, boostMargin, labelProbability, martOps, type MartOptions } from './train/mart.js';
export { WeightAverage } from './train/ema.js';
export { oneCycleLr, parseStepsSchedule, type StepsSchedule } from './train/schedules.js';
export { rocAuc, macroAucOvR } from './analysis/auc.js';
export { runGoodfellow2015 } from './experiments/goodfellow2015.js';
export { runAdvprop, type AdvpropResult } from './experiments/advprop.js';
export { runRobustMnist, type RobustMnistSettings, type RunResult } from './experiments/robust-mnist.js';
export { resolveRuns, defaultRuns, type RunSpec, type ResolvedRun } from './experiments/robust-mnist-runs.js';
export { robustMnistReport, publishedMnist } from './experiments/robust-mnist-report.js';
export { methodObjective, adversarialMethods } from './train/methods.js';
// Correctness helpers: class counts decided by the model, per-layer modes, the exact ε-ball, one target check.
export { withClasses } from './data/datasets.js';
export { outputClasses } from './layers/predict.js';
export { epochBatches } from './train/loop.js';
export type { ModeState } from './layers/sequential.js';
export { checkTargets } from './attacks/attack.js';
export { linfBound, linfClamp, projectLinf, projectL2, projectL1, signStepLinf } from './attacks/ball.js';
export { gradientSteps, randomStart, checkAttackInput, crossEntropy, crossEntropyLoss, stepLossOf, norms, type BallNorm, type StepLoss, type StepOptions, type StepResult } from './attacks/step.js';
// The JSON documents of the CLI's --json and report.json (one field per quantity; see the README's CLI conventions).
export type * from './report/json-types.js';
export { checkWritable, lockOutput, cleanStaleTemps, OutputPathError, OutputLockedError } from './io/atomic.js';
