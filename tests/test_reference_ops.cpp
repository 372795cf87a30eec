// chalk's ops against PyTorch 1.13 (tests/reference/ops.json, made by scripts/make_reference.py):
// forward values and the gradients of sum(upstream * y) for every input, in float64, to 1e-10.
// Also checks that every reference file parses and is self-consistent (shapes of grads and
// upstream weights), so a loss test can rely on them.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "core/tensor.h"
#include "ops/conv.h"
#include "ops/dropout.h"
#include "ops/pooling.h"
#include "ops/linalg.h"
#include "ops/distances.h"
#include "ops/softmax.h"
#include "ops/reduce.h"
#include "reference.h"

using namespace chalk;
using reference::Case;
using reference::close;

namespace {

constexpr double kTol = 1e-10;  // atol and rtol: float64 agreement, far above round-off

const reference::Family& ops_reference() {
  static const reference::Family f = reference::load_reference("ops");
  return f;
}

// The inputs of a case as fresh leaves (those with a reference gradient require one).
using Inputs = std::map<std::string, Tensor>;
using RunOp = std::function<Tensor(const Case&, const Inputs&)>;

// Run `run` on every case of ops.json whose "op" is `op`; compare the output and every gradient.
void check_op(const std::string& op, const RunOp& run) {
  const auto cases = ops_reference().with("op", op);
  ASSERT_FALSE(cases.empty()) << "ops.json has no case with op " << op;
  for (const Case* c : cases) {
    SCOPED_TRACE(c->name);
    Inputs in;
    for (const auto& item : c->inputs.items())
      if (item.key() != "upstream") in[item.key()] = c->input(item.key(), c->has_grad(item.key()));
    const Tensor y = run(*c, in);
    EXPECT_EQ(y.dtype(), DType::Float64);
    EXPECT_TRUE(close(y, c->output("loss"), kTol, kTol)) << "forward";
    c->objective(y).backward();
    for (const auto& item : c->grads.items())
      EXPECT_TRUE(close(in.at(item.key()).grad(), c->grad(item.key()), kTol, kTol)) << "gradient of " << item.key();
  }
}

}  // namespace

TEST(ReferenceOps, Softmax) {
  check_op("softmax", [](const Case& c, const Inputs& in) { return softmax(in.at("x"), c.param_int("axis")); });
}

TEST(ReferenceOps, LogSoftmax) {
  check_op("log_softmax", [](const Case& c, const Inputs& in) { return log_softmax(in.at("x"), c.param_int("axis")); });
}

TEST(ReferenceOps, LogSumExp) {
  check_op("logsumexp", [](const Case& c, const Inputs& in) {
    return logsumexp(in.at("x"), c.param_int("axis"), c.param_bool("keepdim"));
  });
}

TEST(ReferenceOps, Normalize) {
  check_op("normalize", [](const Case& c, const Inputs& in) {
    return normalize(in.at("x"), c.param_int("axis"), c.param("eps"));
  });
}

TEST(ReferenceOps, PairwiseDistancesAreTorchCdist) {
  check_op("cdist", [](const Case&, const Inputs& in) { return pairwise_distances(in.at("a"), in.at("b")); });
}

TEST(ReferenceOps, PairwiseSquaredDistancesAreTorchCdistSquared) {
  check_op("cdist_squared",
           [](const Case&, const Inputs& in) { return pairwise_squared_distances(in.at("a"), in.at("b")); });
}

TEST(ReferenceOps, Matmul) {
  check_op("matmul", [](const Case& c, const Inputs& in) {
    return matmul(in.at("a"), in.at("b"), c.param_bool("transpose_a"), c.param_bool("transpose_b"));
  });
}

TEST(ReferenceOps, Linear) {
  check_op("linear", [](const Case&, const Inputs& in) { return linear(in.at("x"), in.at("w"), in.at("b")); });
}

TEST(ReferenceOps, Conv2d) {
  check_op("conv2d", [](const Case& c, const Inputs& in) {
    const Tensor b = in.count("b") ? in.at("b") : Tensor();
    return conv2d(in.at("x"), in.at("w"), b, c.param_int("stride"), c.param_int("padding"));
  });
}

TEST(ReferenceOps, Conv2dNaive) {
  check_op("conv2d", [](const Case& c, const Inputs& in) {
    const Tensor b = in.count("b") ? in.at("b") : Tensor();
    return conv2d_naive(in.at("x"), in.at("w"), b, c.param_int("stride"), c.param_int("padding"));
  });
}

TEST(ReferenceOps, MaxPool2d) {
  check_op("max_pool2d", [](const Case& c, const Inputs& in) {
    return max_pool2d(in.at("x"), c.param_int("kernel"), c.param_int("stride"));
  });
}

// A case added to ops.json without a test above would silently go unchecked.
TEST(ReferenceOps, EveryCaseIsChecked) {
  const std::set<std::string> tested = {"softmax", "log_softmax", "logsumexp", "normalize", "cdist",
                                        "cdist_squared", "matmul", "linear", "conv2d", "max_pool2d"};
  for (const Case& c : ops_reference().cases) EXPECT_TRUE(tested.count(c.param_str("op"))) << c.name;
}

// ---- the files themselves (used by the loss tests too) ----

TEST(ReferenceFiles, EveryFamilyParsesAndIsConsistent) {
  for (const std::string family : {"ops", "cross_entropy", "triplet", "centroid", "margin_softmax"}) {
    SCOPED_TRACE(family);
    const reference::Family f = reference::load_reference(family);
    EXPECT_EQ(f.generator, "scripts/make_reference.py");
    EXPECT_EQ(f.torch_version.rfind("1.13", 0), 0u) << f.torch_version;
    std::set<std::string> names;
    for (const Case& c : f.cases) {
      SCOPED_TRACE(c.name);
      EXPECT_TRUE(names.insert(c.name).second) << "duplicate case name";
      ASSERT_TRUE(c.has_output("loss"));
      const Tensor out = c.output("loss");
      // non-scalar outputs come with an upstream weight of their shape; scalar ones without
      if (out.numel() == 1 && out.dim() == 0) {
        EXPECT_FALSE(c.has_input("upstream"));
      } else {
        ASSERT_TRUE(c.has_input("upstream"));
        EXPECT_EQ(c.input("upstream").shape(), out.shape());
      }
      EXPECT_FALSE(c.grads.empty());
      for (const auto& item : c.grads.items()) {
        const Tensor x = c.input(item.key());
        EXPECT_EQ(x.dtype(), DType::Float64);
        EXPECT_EQ(c.grad(item.key()).shape(), x.shape()) << item.key();
      }
      for (const auto& item : c.inputs.items()) {
        const Tensor x = c.input(item.key());  // parses, count matches the shape
        if (item.key() == "labels") {
          EXPECT_EQ(x.dtype(), DType::Int64);
        }
      }
    }
  }
}

TEST(ReferenceFiles, ReaderErrorsNameTheMissingThing) {
  const reference::Family& f = ops_reference();
  try {
    f.at("no_such_case");
    FAIL() << "expected chalk::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_case"), std::string::npos) << e.what();
  }
  const Case& c = f.cases.front();
  try {
    c.input("no_such_input");
    FAIL() << "expected chalk::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_input"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.name), std::string::npos) << e.what();
  }
  EXPECT_THROW(reference::load_reference("no_such_family"), Error);
  EXPECT_THROW(reference::tensor_from_json({{"shape", {2, 2}}, {"dtype", "float64"}, {"data", {1.0, 2.0}}}, "t"),
               Error);
  // close() is a real comparison: it fails on a wrong value and on a wrong shape
  const Tensor a = from_vector(std::vector<double>{1.0, 2.0}, {2});
  EXPECT_TRUE(close(a, from_vector(std::vector<double>{1.0, 2.0 + 1e-12}, {2}), 1e-10));
  EXPECT_FALSE(close(a, from_vector(std::vector<double>{1.0, 2.0 + 1e-9}, {2}), 1e-10));
  EXPECT_FALSE(close(a, from_vector(std::vector<double>{1.0, 2.0}, {1, 2}), 1e-10));
  EXPECT_FALSE(close(Tensor(), a, 1e-10));
}
