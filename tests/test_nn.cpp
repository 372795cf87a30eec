// Tests for nn/: Module::to, init.h, layers.h, models.h.
//
// Gradients of a module's own parameters are checked by central differences
// on the parameters in place (check_param_grads below), with the same
// definition and tolerances as chalk::gradcheck (core/gradcheck.h): float64,
// L = sum(w * f) with a fixed random w, h = 1e-6, atol 1e-5, rtol 1e-3.
// Gradients with respect to the input go through chalk::gradcheck itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/random.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/models.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

using namespace chalk;
using namespace chalk::nn;

namespace {

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (auto& [n, t] : m.named_parameters()) out.push_back(n);
  return out;
}

// d/dp sum(w * layer(x)) for every parameter p of `layer` (float64), analytic vs
// central differences. max_per_param > 0 checks that many elements per
// parameter, picked at random (fixed seed); otherwise every element.
void check_param_grads(Layer& layer, const Tensor& x, int max_per_param = 0) {
  const double h = 1e-6, atol = 1e-5, rtol = 1e-3;
  layer.zero_grad();
  const Tensor y = layer.forward(x);
  Generator gen(1234);
  std::vector<double> wv(static_cast<std::size_t>(y.numel()));
  for (auto& v : wv) v = gen.uniform() * 2.0 - 1.0;
  const Tensor w = from_vector(wv, y.shape());
  sum(mul(y, w)).backward();

  NoGradGuard no_grad;
  auto L = [&] { return sum(mul(layer.forward(x), w)).item(); };
  Generator pick(99);
  for (auto& [name, p] : layer.named_parameters()) {
    ASSERT_EQ(p.dtype(), DType::Float64) << name;
    const Tensor g = p.grad();
    ASSERT_TRUE(g.defined()) << name << " got no gradient";
    ASSERT_EQ(g.shape(), p.shape()) << name;
    std::vector<std::int64_t> idx;
    if (max_per_param <= 0 || p.numel() <= max_per_param) {
      for (std::int64_t i = 0; i < p.numel(); ++i) idx.push_back(i);
    } else {
      for (int k = 0; k < max_per_param; ++k) idx.push_back(pick.randint(0, p.numel()));
    }
    double* pd = p.data<double>();
    for (std::int64_t i : idx) {
      const double orig = pd[i];
      pd[i] = orig + h;
      const double lp = L();
      pd[i] = orig - h;
      const double lm = L();
      pd[i] = orig;
      const double numeric = (lp - lm) / (2 * h);
      EXPECT_NEAR(g.data<double>()[i], numeric, atol + rtol * std::fabs(numeric)) << name << " [" << i << "]";
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- init
TEST(Init, FanInFanOut) {
  EXPECT_EQ(fan_in_and_fan_out(zeros({256, 784})), (std::pair<std::int64_t, std::int64_t>{784, 256}));
  EXPECT_EQ(fan_in_and_fan_out(zeros({32, 16, 5, 5})), (std::pair<std::int64_t, std::int64_t>{400, 800}));
  EXPECT_THROW(fan_in_and_fan_out(zeros({7})), Error);
}

TEST(Init, Gains) {
  EXPECT_DOUBLE_EQ(calculate_gain("linear"), 1.0);
  EXPECT_DOUBLE_EQ(calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  EXPECT_DOUBLE_EQ(calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_THROW(calculate_gain("swish"), Error);
}

namespace {
struct Stats {
  double lo, hi, mean, std;
};
Stats stats(const Tensor& t) {
  const auto v = t.to(DType::Float64).to_vector<double>();
  Stats s{*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()), 0, 0};
  for (double x : v) s.mean += x;
  s.mean /= v.size();
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / v.size());
  return s;
}
}  // namespace

TEST(Init, BoundsAndSpreads) {
  // 200 x 300: fan_in 300, fan_out 200; 60,000 draws, so the std is within ~1%.
  Generator gen(5);
  const double fi = 300, fo = 200;
  {
    const Stats s = stats(kaiming_uniform_(zeros({200, 300}), 0.0, gen));
    const double b = std::sqrt(2.0) * std::sqrt(3.0 / fi);
    EXPECT_GE(s.lo, -b);
    EXPECT_LE(s.hi, b);
    EXPECT_GT(s.hi, 0.99 * b);
    EXPECT_NEAR(s.std, b / std::sqrt(3.0), 0.02 * b);
  }
  {
    const Stats s = stats(kaiming_normal_(zeros({200, 300}, DType::Float64), 0.0, gen));
    EXPECT_NEAR(s.std, std::sqrt(2.0 / fi), 0.02 * std::sqrt(2.0 / fi));
    EXPECT_NEAR(s.mean, 0.0, 0.01 * std::sqrt(2.0 / fi) * 3);
  }
  {
    const Stats s = stats(xavier_uniform_(zeros({200, 300}), 1.0, gen));
    const double b = std::sqrt(6.0 / (fi + fo));
    EXPECT_GE(s.lo, -b);
    EXPECT_LE(s.hi, b);
    EXPECT_GT(s.hi, 0.99 * b);
  }
  {
    const Stats s = stats(xavier_normal_(zeros({200, 300}), 2.0, gen));
    EXPECT_NEAR(s.std, 2.0 * std::sqrt(2.0 / (fi + fo)), 0.02 * 2.0 * std::sqrt(2.0 / (fi + fo)));
  }
  {
    const Stats s = stats(uniform_(zeros({1000}), -3.0, -2.0, gen));
    EXPECT_GE(s.lo, -3.0);
    EXPECT_LT(s.hi, -2.0);
  }
  const Stats z = stats(zeros_(ones({4, 4})));
  EXPECT_EQ(z.lo, 0.0);
  EXPECT_EQ(z.hi, 0.0);
  EXPECT_THROW(uniform_(zeros({3}), 1.0, 0.0, gen), Error);
  EXPECT_THROW(uniform_(zeros({3}, DType::Int64), 0.0, 1.0, gen), Error);
}

TEST(Init, SameSeedSameValuesAndInPlace) {
  Generator g1(42), g2(42);
  Tensor a = zeros({3, 4}), b = zeros({3, 4});
  Tensor same_a = a;  // a handle: init writes through it
  kaiming_uniform_(a, 0.0, g1);
  kaiming_uniform_(b, 0.0, g2);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_EQ(same_a.to_vector<float>(), a.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), zeros({3, 4}).to_vector<float>());
}

// ---------------------------------------------------------------- Linear
TEST(Linear, DefaultInitIsPyTorchs) {
  Generator gen(1);
  Linear fc(400, 300, true, gen);  // bound 1/sqrt(400) = 0.05 for weight and bias
  const Stats w = stats(fc.weight), b = stats(fc.bias);
  EXPECT_GE(w.lo, -0.05);
  EXPECT_LE(w.hi, 0.05);
  EXPECT_GT(w.hi, 0.049);
  EXPECT_LT(w.lo, -0.049);
  EXPECT_GE(b.lo, -0.05);
  EXPECT_LE(b.hi, 0.05);
  EXPECT_GT(b.hi - b.lo, 0.08);  // spread over the whole range, not zeros
  EXPECT_EQ(fc.weight.shape(), (Shape{300, 400}));
  EXPECT_EQ(fc.bias.shape(), (Shape{300}));
  EXPECT_TRUE(fc.weight.requires_grad());
  // A seed fixes the values.
  Generator again(1);
  Linear fc2(400, 300, true, again);
  EXPECT_EQ(fc.weight.to_vector<float>(), fc2.weight.to_vector<float>());
}

TEST(Linear, ForwardIsXWTransposePlusB) {
  manual_seed(7);
  Linear fc(4, 3);
  const Tensor x = randn({5, 4});
  const auto y = fc(x).to_vector<float>();
  const auto xv = x.to_vector<float>(), W = fc.weight.to_vector<float>(), b = fc.bias.to_vector<float>();
  for (int n = 0; n < 5; ++n)
    for (int o = 0; o < 3; ++o) {
      double s = b[o];
      for (int i = 0; i < 4; ++i) s += xv[n * 4 + i] * W[o * 4 + i];  // W is out x in
      EXPECT_NEAR(y[n * 3 + o], s, 1e-5) << n << "," << o;
    }
  Linear nb(4, 3, false);
  EXPECT_FALSE(nb.bias.defined());
  EXPECT_EQ(names_of(nb), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(nb.name(), "Linear(4 -> 3, no bias)");
  EXPECT_EQ(fc.name(), "Linear(4 -> 3)");
}

TEST(Linear, WrongInputShapeNamesTheLayer) {
  Linear fc(4, 3);
  try {
    fc(zeros({2, 5}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("Linear(4 -> 3)"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 5]"), std::string::npos) << m;
  }
  EXPECT_THROW(fc(zeros({4})), Error);
  EXPECT_THROW(Linear(0, 3), Error);
}

TEST(Linear, GradcheckFloat64) {
  manual_seed(11);
  Linear fc(5, 3);
  fc.to(DType::Float64);
  const Tensor x = randn({4, 5}, DType::Float64);
  check_param_grads(fc, x);
  const auto r = gradcheck([&](const std::vector<Tensor>& in) { return fc(in[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.report;
}

// ---------------------------------------------------------------- Module::to
TEST(Module, ToConvertsInPlaceAndKeepsHandles) {
  manual_seed(2);
  auto seq = std::make_shared<Sequential>();
  auto fc = seq->add(std::make_shared<Linear>(3, 2));
  const auto before = fc->weight.to_vector<float>();
  Tensor handle = seq->named_parameters()[0].second;
  sum(seq->forward(ones({1, 3}))).backward();
  ASSERT_TRUE(fc->weight.grad().defined());

  seq->to(DType::Float64);
  EXPECT_EQ(fc->weight.dtype(), DType::Float64);
  EXPECT_EQ(handle.dtype(), DType::Float64);  // the same tensor, seen from everywhere
  EXPECT_FALSE(fc->weight.grad().defined());  // gradients dropped
  EXPECT_TRUE(fc->weight.requires_grad());
  const auto after = fc->weight.to_vector<double>();
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], static_cast<double>(before[i]));
  EXPECT_EQ(seq->forward(ones({1, 3}, DType::Float64)).dtype(), DType::Float64);
  seq->to(DType::Float32);
  EXPECT_EQ(fc->bias.dtype(), DType::Float32);
  EXPECT_THROW(seq->to(DType::Int64), Error);
}

// ---------------------------------------------------------------- Sequential, ReLU, Flatten
TEST(Sequential, NamesChildrenByPosition) {
  Sequential seq{std::make_shared<Linear>(4, 8), std::make_shared<ReLU>(), std::make_shared<Linear>(8, 2)};
  EXPECT_EQ(names_of(seq), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(seq.size(), 3u);
  EXPECT_EQ(seq[1]->name(), "ReLU");
  EXPECT_THROW(seq[3], Error);
  EXPECT_THROW(seq.push_back(nullptr), Error);
  auto extra = seq.add(std::make_shared<Linear>(2, 1));
  EXPECT_EQ(extra->out_features, 1);
  EXPECT_EQ(names_of(seq).back(), "3.bias");
  EXPECT_EQ(seq.num_parameters(), 4 * 8 + 8 + 8 * 2 + 2 + 2 + 1);
  EXPECT_EQ(seq.forward(zeros({6, 4})).shape(), (Shape{6, 1}));
}

TEST(Sequential, GradcheckFloat64) {
  manual_seed(12);
  Sequential seq{std::make_shared<Linear>(5, 7), std::make_shared<ReLU>(), std::make_shared<Linear>(7, 3),
                 std::make_shared<ReLU>(), std::make_shared<Linear>(3, 2)};
  seq.to(DType::Float64);
  const Tensor x = randn({6, 5}, DType::Float64);
  check_param_grads(seq, x);
  const auto r = gradcheck([&](const std::vector<Tensor>& in) { return seq(in[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(Flatten, MergesTrailingAxes) {
  Flatten f;
  const Tensor x = arange(0, 24, 1, DType::Float64).reshape({2, 3, 2, 2});
  const Tensor y = f(x);
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  EXPECT_EQ(y.to_vector<double>(), x.to_vector<double>());
  EXPECT_EQ(Flatten(2)(x).shape(), (Shape{2, 3, 4}));
  const auto r = gradcheck([&](const std::vector<Tensor>& in) { return f(in[0]); }, {randn({2, 3, 2})});
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(ReLU, ZeroesNegatives) {
  ReLU r;
  EXPECT_EQ(r(tensor({-1.0, 0.0, 2.0}, DType::Float64)).to_vector<double>(), (std::vector<double>{0, 0, 2}));
}

// ---------------------------------------------------------------- train / eval
TEST(Module, TrainEvalPropagatesThroughTheTree) {
  MLP mlp;
  auto all_modes = [](const Module& root) {
    std::vector<bool> modes;
    std::vector<const Module*> todo{&root};
    while (!todo.empty()) {
      const Module* m = todo.back();
      todo.pop_back();
      modes.push_back(m->is_training());
      for (auto& [n, c] : m->children()) todo.push_back(c.get());
    }
    return modes;
  };
  EXPECT_EQ(all_modes(mlp), std::vector<bool>(7, true));  // MLP, Sequential, 5 layers
  mlp.eval();
  EXPECT_EQ(all_modes(mlp), std::vector<bool>(7, false));
  mlp.train();
  EXPECT_EQ(all_modes(mlp), std::vector<bool>(7, true));
}

// ---------------------------------------------------------------- models
TEST(Models, MLPParameterNamesShapesAndCount) {
  MLP mlp(10);
  EXPECT_EQ(names_of(mlp), (std::vector<std::string>{"net.0.weight", "net.0.bias", "net.2.weight",
                                                     "net.2.bias", "net.4.weight", "net.4.bias"}));
  const auto p = mlp.named_parameters();
  EXPECT_EQ(p[0].second.shape(), (Shape{256, 784}));
  EXPECT_EQ(p[2].second.shape(), (Shape{128, 256}));
  EXPECT_EQ(p[4].second.shape(), (Shape{10, 128}));
  EXPECT_EQ(mlp.num_parameters(), 235146);  // 784*256+256 + 256*128+128 + 128*10+10
  EXPECT_EQ(MLP(64).num_parameters(), 235146 - 1290 + 128 * 64 + 64);
  EXPECT_EQ(mlp.name(), "MLP(784-256-128-10)");
}

TEST(Models, MLPSummaryShowsTreeShapesAndCounts) {
  const std::string s = MLP(10).summary();
  for (const char* want : {"MLP(784-256-128-10)", "235146 parameters", "(net) Sequential",
                           "(0) Linear(784 -> 256)", "200960 parameters", "weight: [256, 784]",
                           "bias: [256]", "(1) ReLU", "(4) Linear(128 -> 10)"})
    EXPECT_NE(s.find(want), std::string::npos) << "missing '" << want << "' in\n" << s;
}

TEST(Models, MLPAcceptsFlatOrImageInput) {
  manual_seed(4);
  MLP mlp(10);
  const Tensor img = randn({3, 1, 28, 28});
  const Tensor a = mlp(img), b = mlp(img.reshape({3, 784}));
  EXPECT_EQ(a.shape(), (Shape{3, 10}));
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_THROW(mlp(zeros({3, 783})), Error);
  EXPECT_THROW(mlp(zeros({784})), Error);
  // Every parameter receives a gradient of its own shape.
  sum(a).backward();
  for (auto& [n, t] : mlp.named_parameters()) {
    ASSERT_TRUE(t.grad().defined()) << n;
    EXPECT_EQ(t.grad().shape(), t.shape()) << n;
  }
}

TEST(Models, MLPGradcheckFloat64OnSampledParameters) {
  manual_seed(8);
  MLP mlp(3);
  mlp.to(DType::Float64);
  check_param_grads(mlp, randn({2, 784}, DType::Float64), 12);
}

TEST(Models, SmallCNNParameterNamesAndCount) {
  SmallCNN cnn(10);
  EXPECT_EQ(names_of(cnn), (std::vector<std::string>{"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias",
                                                     "net.5.weight", "net.5.bias", "net.7.weight", "net.7.bias"}));
  const auto p = cnn.named_parameters();
  EXPECT_EQ(p[0].second.shape(), (Shape{16, 1, 5, 5}));
  EXPECT_EQ(p[2].second.shape(), (Shape{32, 16, 5, 5}));
  EXPECT_EQ(p[4].second.shape(), (Shape{128, 1568}));
  // 16*25+16 + 32*16*25+32 + 1568*128+128 + 128*10+10
  EXPECT_EQ(cnn.num_parameters(), 416 + 12832 + 200832 + 1290);
  const Stats w = stats(p[2].second);  // conv default init: bound 1/sqrt(16*25) = 0.05
  EXPECT_GE(w.lo, -0.05);
  EXPECT_LE(w.hi, 0.05);
  EXPECT_GT(w.hi, 0.045);
  const std::string s = cnn.summary();
  EXPECT_NE(s.find("(0) Conv2d(1 -> 16, 5x5, stride 1, padding 2)"), std::string::npos) << s;
  EXPECT_NE(s.find("(1) ReLU + MaxPool2d(2x2, stride 2)"), std::string::npos) << s;
  EXPECT_NE(s.find("(4) Flatten"), std::string::npos) << s;
}

TEST(Models, MakeModel) {
  EXPECT_EQ(make_model("mlp", 10)->name(), "MLP(784-256-128-10)");
  EXPECT_EQ(make_model("cnn", 32)->name(), "SmallCNN(out=32)");
  try {
    make_model("resnet", 10);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("resnet"), std::string::npos) << m;
    EXPECT_NE(m.find("mlp, cnn"), std::string::npos) << m;
  }
  EXPECT_THROW(MLP(0), Error);
}

// ---------------------------------------------------------------- layers over ops/conv.h
TEST(Conv2dLayer, ShapesAndGradcheckFloat64) {
  manual_seed(21);
  Conv2d conv(2, 3, 3, 1, 1);
  EXPECT_EQ(conv.weight.shape(), (Shape{3, 2, 3, 3}));
  EXPECT_THROW(conv(zeros({1, 3, 5, 5})), Error);  // 3 channels, expects 2
  conv.to(DType::Float64);
  const Tensor x = randn({2, 2, 5, 4}, DType::Float64);
  EXPECT_EQ(conv(x).shape(), (Shape{2, 3, 5, 4}));
  check_param_grads(conv, x);
  Conv2d strided(2, 4, 3, 2, 0);
  EXPECT_EQ(strided(randn({1, 2, 7, 7})).shape(), (Shape{1, 4, 3, 3}));
}

TEST(MaxPool2dLayer, HalvesTheImage) {
  MaxPool2d pool(2);
  EXPECT_EQ(pool.stride, 2);
  const Tensor x = arange(0, 16, 1, DType::Float64).reshape({1, 1, 4, 4});
  EXPECT_EQ(pool(x).to_vector<double>(), (std::vector<double>{5, 7, 13, 15}));
  EXPECT_EQ(MaxPool2d(3, 1)(zeros({2, 3, 5, 5})).shape(), (Shape{2, 3, 3, 3}));
}

TEST(ReLUMaxPool2dLayer, IsReLUThenMaxPool) {
  manual_seed(6);
  ReLUMaxPool2d fused(2);
  EXPECT_EQ(fused.stride, 2);
  EXPECT_EQ(fused.name(), "ReLU + MaxPool2d(2x2, stride 2)");
  const Tensor x = randn({2, 3, 6, 6});
  ReLU relu_layer;
  MaxPool2d pool(2);
  EXPECT_EQ(fused(x).to_vector<float>(), pool(relu_layer(x)).to_vector<float>());
  EXPECT_THROW(ReLUMaxPool2d(0), Error);
}

TEST(DropoutLayer, FollowsTrainingMode) {
  manual_seed(5);
  Dropout drop(0.5);
  const Tensor x = ones({100, 100});
  const auto y = drop(x).to_vector<float>();
  int zeros_count = 0;
  for (float v : y) {
    EXPECT_TRUE(v == 0.0f || v == 2.0f) << v;  // kept elements scaled by 1/(1-p)
    zeros_count += v == 0.0f;
  }
  EXPECT_NEAR(zeros_count / 10000.0, 0.5, 0.03);
  drop.eval();
  EXPECT_EQ(drop(x).to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(drop.name(), "Dropout(p=0.5)");
  EXPECT_THROW(Dropout(1.0), Error);
  // In a Sequential, eval() on the container reaches the dropout.
  Sequential seq{std::make_shared<Dropout>(0.9)};
  seq.eval();
  EXPECT_EQ(seq(x).to_vector<float>(), x.to_vector<float>());
}

TEST(Models, SmallCNNForwardShapeAndGradients) {
  manual_seed(9);
  SmallCNN cnn(10);
  const Tensor x = randn({2, 1, 28, 28});
  const Tensor y = cnn(x);
  EXPECT_EQ(y.shape(), (Shape{2, 10}));
  EXPECT_THROW(cnn(zeros({2, 784})), Error);
  EXPECT_THROW(cnn(zeros({2, 1, 14, 14})), Error);
  cnn.to(DType::Float64);
  check_param_grads(cnn, randn({2, 1, 28, 28}, DType::Float64), 6);
}
