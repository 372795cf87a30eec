// ops/shape_ops.h — moving data around, with autograd: transpose, permute,
// slice, index_select, gather, cat, stack, one_hot, flatten.
// Each returns a contiguous copy (chalk tensors are always contiguous), except
// flatten, which is a reshape and shares x's data.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace chalk {

// Swap two axes. VJP: transpose g back.
Tensor transpose(const Tensor& x, int axis0, int axis1);
// Reorder axes: y.shape[i] = x.shape[dims[i]]. VJP: the inverse permutation.
Tensor permute(const Tensor& x, const std::vector<int>& dims);
// x[..., start:end, ...] along `axis` (end exclusive; negative values count from the end).
// VJP: g written into a zero tensor of x's shape at [start, end).
Tensor slice(const Tensor& x, int axis, std::int64_t start, std::int64_t end);
// Rows (or slices along `axis`) picked by an int64 index vector; repeats allowed.
// VJP: scatter-add g back (repeated indices accumulate).
Tensor index_select(const Tensor& x, int axis, const Tensor& index);
// y[i][j] = x[i][index[i][j]] for axis 1 (PyTorch's gather semantics, any axis);
// index has x's shape except along `axis`. VJP: scatter-add.
Tensor gather(const Tensor& x, int axis, const Tensor& index);
// Join along an existing axis / a new axis. VJP: slices of g.
Tensor cat(const std::vector<Tensor>& xs, int axis);
Tensor stack(const std::vector<Tensor>& xs, int axis);
// labels (N) int64 in [0, C) -> (N x C) of 0/1 in `dtype`. No gradient.
Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dtype = DType::Float32);
// Merge axes start_axis..end into one: [N, C, H, W] -> [N, C*H*W] for flatten(x, 1).
Tensor flatten(const Tensor& x, int start_axis = 1);

}  // namespace chalk
