// core/graph_dot.h — the recorded autograd graph as a picture: Graphviz DOT text.
//
// micrograd's draw_dot and PyTorch's torchviz.make_dot draw the graph behind a loss; this is
// chalk's. to_dot(L) walks L's grad_fn nodes (core/autograd.h) down to the leaves and writes
// one DOT graph, left (leaves) to right (L):
//
//   tensor   a box:      its name if it has one (Tensor::name), shape and dtype, and
//                        "leaf, requires_grad" for a leaf that collects a gradient;
//   op       an ellipse: the op's name and the tensors its VJP saved, each with the version
//                        it saw ("saved: input 0 v0, input 1 v0"); a saved tensor written in
//                        place since ("input 0 v0, now v1") turns the op red — the error the
//                        next backward() will throw (docs/autograd.md section 7);
//   edges    input -> op -> output; an input that needs no gradient (a constant) is a dashed
//            box with a dashed edge: the graph has no edge to it, backward() stops there.
//            Edges of an op with several inputs are labelled with the input's index.
//
// Nodes are numbered in the order a depth-first walk from L meets them (inputs in order), so
// the text is the same on every run for the same program. A graph freed by backward() shows
// its ops as "(freed by backward)" without inputs.
//
// Render it with Graphviz (Debian's `graphviz` package, its `dot` program):
//   dot -Tsvg graph.dot -o graph.svg
// or plot::render_dot (plot/graphviz.h), which runs that command. chalk itself does not link
// Graphviz: the text is the whole interface, and a graph can be looked at without it.
#pragma once

#include <string>

#include "core/tensor.h"

namespace chalk {

// The graph that produced `root`, as a Graphviz DOT digraph (see above). `root` may be a
// leaf (one box). Throws chalk::Error if `root` is undefined.
std::string to_dot(const Tensor& root);

}  // namespace chalk
