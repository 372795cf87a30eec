// chalk.h — the one header a program needs: #include <chalk.h>
//
// Layers, from the bottom up (each includes only those below it):
//   core/    tensors, autograd, GEMM and OpenMP kernels, gradcheck
//   ops/     differentiable operations on tensors
//   io/      file formats: MNIST IDX, safetensors
//   nn/      modules, layers, models, optimizers, MNIST batches
//   losses/  the three loss families and embedding metrics
//   train/   the training loop behind chalk-train and the demos
#pragma once

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/gradcheck.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/shape.h"
#include "core/tensor.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/nn_ops.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "io/idx.h"
#include "io/safetensors.h"
#include "nn/data.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/models.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "losses/centroid.h"
#include "losses/loss.h"
#include "losses/margin_softmax.h"
#include "losses/metrics.h"
#include "losses/softmax.h"
#include "train/trainer.h"
