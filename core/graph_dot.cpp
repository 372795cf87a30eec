#include "core/graph_dot.h"

#include <sstream>
#include <unordered_map>
#include <vector>

#include "core/autograd.h"

namespace chalk {

namespace {

// A DOT string literal's body: quotes and backslashes escaped (a name may contain either).
std::string escaped(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r;
}

std::string type_str(const Shape& s, DType d) { return shape_str(s) + " " + dtype_name(d); }

// "input 0 v0" or, written in place since record(), "input 0 v0, now v1".
std::string saved_str(const SavedVersion& s, bool& stale) {
  const std::string which = s.input >= 0 ? str_cat("input ", s.input) : s.input == -1 ? "output" : "other";
  std::string what = str_cat(which, " v", s.version);
  if (const auto storage = s.storage.lock()) {
    const std::int64_t now = storage->version.load(std::memory_order_relaxed);
    if (now != s.version) {
      stale = true;
      what += str_cat(", now v", now);
    }
  }
  return what;
}

}  // namespace

std::string to_dot(const Tensor& root) {
  if (!root.defined()) fail("to_dot: the tensor is undefined");
  // 1. Number the tensors in depth-first preorder from root (inputs in order), iteratively.
  std::unordered_map<const TensorImpl*, int> id;
  std::vector<const TensorImpl*> order;
  std::vector<const TensorImpl*> stack{root.impl()};
  while (!stack.empty()) {
    const TensorImpl* t = stack.back();
    stack.pop_back();
    if (id.count(t)) continue;
    id.emplace(t, static_cast<int>(order.size()));
    order.push_back(t);
    if (!t->grad_fn) continue;
    const auto& ins = t->grad_fn->inputs;
    for (auto it = ins.rbegin(); it != ins.rend(); ++it)  // reversed: input 0 is visited first
      if (*it && !id.count(it->get())) stack.push_back(it->get());
  }

  // 2. Write the nodes and edges in that order.
  std::ostringstream os;
  os << "digraph autograd {\n"
     << "  rankdir=LR;\n"
     << "  node [fontname=\"Helvetica\", fontsize=11];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  for (const TensorImpl* t : order) {
    const int k = id.at(t);
    std::string label;
    if (!t->name.empty()) label += escaped(t->name) + "\\n";
    label += type_str(t->shape, t->dtype);
    if (!t->grad_fn && t->requires_grad) label += "\\nleaf, requires_grad";
    os << "  t" << k << " [shape=box, label=\"" << label << "\"];\n";
    const Node* node = t->grad_fn.get();
    if (!node) continue;
    std::string op = escaped(node->name);
    bool stale = false;
    if (node->released) {
      op += "\\n(freed by backward)";
    } else if (!node->saved.empty()) {
      op += "\\nsaved:";
      for (std::size_t i = 0; i < node->saved.size(); ++i) op += (i ? ", " : " ") + saved_str(node->saved[i], stale);
    }
    os << "  op" << k << " [shape=ellipse, label=\"" << op << "\"" << (stale ? ", color=red, fontcolor=red" : "")
       << "];\n";
    os << "  op" << k << " -> t" << k << ";\n";
    const auto& ins = node->inputs;
    for (std::size_t i = 0; i < ins.size(); ++i) {
      const std::string from = ins[i] ? str_cat("t", id.at(ins[i].get())) : str_cat("c", k, "_", i);
      std::string attrs = ins[i] ? "" : "style=dashed";
      if (ins.size() > 1) attrs += str_cat(attrs.empty() ? "" : ", ", "label=\"", i, "\"");
      if (!ins[i]) {  // a constant: no edge in the graph; its shape is known if the VJP saved it
        std::string c = "constant";
        for (const SavedVersion& s : node->saved)
          if (s.input == static_cast<int>(i)) c += "\\n" + type_str(s.shape, s.dtype);
        os << "  " << from << " [shape=box, style=dashed, label=\"" << c << "\"];\n";
      }
      os << "  " << from << " -> op" << k << (attrs.empty() ? "" : " [" + attrs + "]") << ";\n";
    }
  }
  os << "}\n";
  return os.str();
}

}  // namespace chalk
