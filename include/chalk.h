// chalk.h — the one header a program needs: #include <chalk.h>
//
// Layers, from the bottom up (each includes only those below it):
//   core/    tensors, autograd, GEMM and OpenMP kernels, gradcheck
//   ops/     differentiable operations on tensors
//   io/      file formats: MNIST (IDX), safetensors
//   nn/      modules, layers, models, optimizers, learning-rate schedules
//   eval/    how good an embedding is: retrieval metrics, K-means, NMI, accuracy; intervals over seeds
//   losses/  the three loss families (softmax/margin softmax, triplet, centroid bound)
//   train/   batches and samplers, and the training loop behind chalk-train and the demos
#pragma once

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/checks.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/gradcheck.h"
#include "core/graph_dot.h"
#include "core/machine.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/shape.h"
#include "core/tensor.h"
#include "core/timing.h"
#include "ops/broadcast.h"
#include "ops/conv.h"
#include "ops/distances.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/pooling.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/softmax.h"
#include "io/idx.h"
#include "io/mnist.h"
#include "io/safetensors.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/models.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "eval/confidence.h"
#include "eval/metrics.h"
#include "losses/centroid.h"
#include "losses/loss.h"
#include "losses/margin_softmax.h"
#include "losses/options.h"
#include "losses/softmax.h"
#include "losses/triplet.h"
#include "train/batches.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/data.h"
#include "train/evaluate.h"
#include "train/monitors.h"
#include "train/parts.h"
#include "train/run.h"
#include "train/sampler.h"
#include "train/step.h"
#include "train/trainer.h"
