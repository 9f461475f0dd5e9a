/**
 * The data layer: seeded, batched task generators (evidence accumulation, delayed
 * match-to-sample, copying), MNIST from the `mnist` package with a per-epoch shuffling loader,
 * and Poisson rate coding of images. Everything is generated on the host from Threefry keys,
 * so a seed gives the same data on every backend; returned tensors belong to the caller.
 */
export { SequenceTask, type TaskBatch, type TaskOptions } from './task';
export {
  EvidenceAccumulation,
  type EvidenceAccumulationOptions,
  type EvidenceBatch,
} from './evidence';
export {
  DelayedMatchToSample,
  type DelayedMatchToSampleOptions,
  type MatchToSampleBatch,
} from './dmts';
export { CopyingTask, type CopyingTaskOptions, type CopyingBatch } from './copying';
export {
  loadMnist,
  MnistSplit,
  MNIST_PIXELS,
  MNIST_SIDE,
  MNIST_SIZE,
  type Mnist,
  type MnistOptions,
} from './mnist';
export {
  DataLoader,
  gatherBatch,
  type DataLoaderOptions,
  type LabelledBatch,
  type LabelledData,
} from './loader';
export { poissonEncode, type PoissonEncodeOptions } from './poisson';
export { fillBernoulli } from './spikes';
