// Tests for losses/triplet.h: explicit triplets (PyTorch TripletMarginLoss), in-batch mining
// (batch-all, batch-hard, semi-hard) with every distance and margin form; fused vs composed,
// gradient checks, PyTorch agreement (tests/reference/triplet.json), edge cases, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "core/autograd.h"
#include "core/gradcheck.h"
#include "core/parallel.h"
#include "core/random.h"
#include "losses/triplet.h"
#include "ops/elementwise.h"
#include "reference.h"
#include "test_util.h"

using namespace chalk;
using chalk::test_util::expect_close;
using chalk::test_util::expect_error;

namespace {

Tensor labels_of(std::vector<std::int64_t> v) { return from_vector(v, {static_cast<std::int64_t>(v.size())}); }

// 3 classes x 4 samples, interleaved
Tensor pk_labels() { return labels_of({0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}); }

std::vector<TripletMining> all_variants() {
  std::vector<TripletMining> out;
  for (const char* mining : {"all", "hard", "semihard"})
    for (const char* dist : {"euclidean", "squared", "cosine"})
      for (bool soft : {false, true})
        for (bool norm : {true, false}) {
          TripletMining o;
          o.mining = mining;
          o.distance = dist;
          o.soft_margin = soft;
          o.normalize = norm;
          o.margin = 0.3;
          out.push_back(o);
        }
  return out;
}

std::string describe(const TripletMining& o) {
  return o.mining + "/" + o.distance + (o.soft_margin ? "/soft" : "/hinge") + (o.normalize ? "/norm" : "/raw") +
         (o.reduction ? "/" + *o.reduction : "");
}

}  // namespace

TEST(TripletMining, GradcheckFusedAndComposed) {
  manual_seed(11);
  const Tensor y = labels_of({0, 1, 2, 0, 1, 2, 0, 1});  // small: 36 variants x 2 versions x 2 evaluations per element
  for (const TripletMining& o : all_variants()) {
    SCOPED_TRACE(describe(o));
    const Tensor x = randn({8, 3}, DType::Float64);
    auto fused = gradcheck([&](const std::vector<Tensor>& in) { return batch_triplet_loss(in[0], y, o); }, {x});
    EXPECT_TRUE(fused.ok) << fused.report;
    auto composed =
        gradcheck([&](const std::vector<Tensor>& in) { return batch_triplet_loss_composed(in[0], y, o); }, {x});
    EXPECT_TRUE(composed.ok) << composed.report;
  }
}

TEST(TripletMining, FusedAndComposedAgreeTo1e10) {
  manual_seed(12);
  const Tensor y = pk_labels();
  std::vector<TripletMining> variants = all_variants();
  for (const char* red : {"mean", "sum", "nonzero"}) {
    TripletMining o;
    o.mining = "all";
    o.reduction = red;
    variants.push_back(o);
  }
  TripletMining hs;
  hs.mining = "hard";
  hs.reduction = "sum";
  variants.push_back(hs);
  for (const TripletMining& o : variants) {
    SCOPED_TRACE(describe(o));
    Tensor x1 = randn({12, 6}, DType::Float64).requires_grad_();
    Tensor x2 = x1.detach().clone().requires_grad_();
    Tensor a = batch_triplet_loss(x1, y, o), b = batch_triplet_loss_composed(x2, y, o);
    EXPECT_NEAR(a.item(), b.item(), 1e-10);
    a.backward(scalar(1.7, DType::Float64));
    b.backward(scalar(1.7, DType::Float64));
    expect_close(x1.grad(), x2.grad(), 1e-10, 0, "fused vs composed gradient");
  }
}

TEST(TripletMining, HandComputedPointsOnALine) {
  // 1-D points: class 0 at 0 and 1, class 1 at 3 and 6; no normalisation, Euclidean, margin 2.
  const Tensor x = from_vector(std::vector<double>{0, 1, 3, 6}, {4, 1});
  const Tensor y = labels_of({0, 0, 1, 1});
  TripletMining o;
  o.normalize = false;
  o.margin = 2.0;
  // batch-hard, per anchor (d_ap farthest positive, d_an nearest negative):
  //   a=0: d_ap 1, d_an 3 -> 0;   a=1: 1, 2 -> 1;   a=3: 3, 2 -> 3;   a=6: 3, 5 -> 0   => mean 1
  o.mining = "hard";
  EXPECT_NEAR(batch_triplet_loss(x, y, o).item(), 1.0, 1e-12);
  // batch-all: triplets (a, p, n): a=0 (p=1): n=3 -> 0, n=6 -> 0; a=1 (p=0): n=3: 1-2+2=1, n=6: 0;
  //   a=3 (p=6): n=0: 3-3+2=2, n=1: 3-2+2=3;   a=6 (p=3): n=0: 3-6+2 -> 0, n=1: 3-5+2 -> 0
  //   sum 6 over 8 triplets, 3 active: nonzero 2, mean 0.75, sum 6
  o.mining = "all";
  EXPECT_NEAR(batch_triplet_loss(x, y, o).item(), 2.0, 1e-12);
  o.reduction = "mean";
  EXPECT_NEAR(batch_triplet_loss(x, y, o).item(), 0.75, 1e-12);
  o.reduction = "sum";
  TripletStats st;
  EXPECT_NEAR(batch_triplet_loss(x, y, o, &st).item(), 6.0, 1e-12);
  EXPECT_EQ(st.triplets, 8);
  EXPECT_EQ(st.active, 3);
  // semi-hard, per (a, p): the nearest negative farther than p, else the farthest negative:
  //   (0,1): negatives 3, 6 both > 1 -> 3: 1-3+2 = 0;  (1,0): 2, 5 > 1 -> 2: 1-2+2 = 1
  //   (3,6): 3, 2 none > 3 -> farthest 3: 3-3+2 = 2;   (6,3): 6, 5 > 3 -> 5: 3-5+2 = 0   => mean 0.75
  o.mining = "semihard";
  o.reduction.reset();
  EXPECT_NEAR(batch_triplet_loss(x, y, o).item(), 0.75, 1e-12);
  // soft margin, batch-hard: mean of log(1 + e^(d_ap - d_an)) over the four anchors
  o.mining = "hard";
  o.soft_margin = true;
  const double expect = (std::log1p(std::exp(1.0 - 3)) + std::log1p(std::exp(1.0 - 2)) + std::log1p(std::exp(3.0 - 2)) +
                         std::log1p(std::exp(3.0 - 5))) / 4;
  EXPECT_NEAR(batch_triplet_loss(x, y, o).item(), expect, 1e-12);
}

TEST(TripletMining, HandComputedGradientsOnALine) {
  // The same four points (class 0 at 0 and 1, class 1 at 3 and 6; margin 2, Euclidean, raw).
  // In 1-D, d|u - v|/du = sign(u - v), so an active triplet (a, p, n) with weight w adds
  //   w (sign(a - p) - sign(a - n)) to a,   w sign(p - a) to p,   -w sign(n - a) to n.
  // Several triplets sit exactly on the hinge (z + alpha = 0: (0, 1, 3), (6, 3, 1)); their slope is
  // 0 (relu's convention), which these numbers pin down. Both versions must give them.
  const Tensor x0 = from_vector(std::vector<double>{0, 1, 3, 6}, {4, 1});
  const Tensor y = labels_of({0, 0, 1, 1});
  auto check = [&](const TripletMining& o, std::vector<double> expect) {
    for (int composed = 0; composed < 2; ++composed) {
      SCOPED_TRACE(describe(o) + (composed ? " composed" : " fused"));
      Tensor x = x0.clone().requires_grad_();
      (composed ? batch_triplet_loss_composed(x, y, o) : batch_triplet_loss(x, y, o)).backward();
      const auto g = x.grad().to_vector<double>();
      for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(g[i], expect[i], 1e-12) << "point " << i;
    }
  };
  TripletMining o;
  o.normalize = false;
  o.margin = 2.0;
  // batch-hard: active (1, 0, 3): x1 +2, x0 -1, x3 -1;  (3, 6, 1): x3 -2, x6 +1, x1 +1;  w = 1/4
  o.mining = "hard";
  check(o, {-0.25, 0.75, -0.75, 0.25});
  // batch-all: active (1, 0, 3) as above; (3, 6, 0): x3 -2, x6 +1, x0 +1; (3, 6, 1) as above.
  //   sum of the three: (0, 3, -5, 2); nonzero divides by 3 active, mean by 8 valid, sum by 1
  o.mining = "all";
  check(o, {0.0, 1.0, -5.0 / 3, 2.0 / 3});
  o.reduction = "mean";
  check(o, {0.0, 3.0 / 8, -5.0 / 8, 2.0 / 8});
  o.reduction = "sum";
  check(o, {0.0, 3.0, -5.0, 2.0});
  // semi-hard: active (1, 0, 3) and the fallback (3, 6, 0): (0, 2, -3, 1) / 4 positive pairs
  o.mining = "semihard";
  o.reduction.reset();
  check(o, {0.0, 0.5, -0.75, 0.25});
  // soft margin, batch-hard: every anchor's triplet pulls with sigmoid(z) / 4:
  //   a=0 (0, 1, 3) z=-2: x1 +1, x3 -1 (x0: 0);   a=1 (1, 0, 3) z=-1: x1 +2, x0 -1, x3 -1;
  //   a=3 (3, 6, 1) z=+1: x3 -2, x6 +1, x1 +1;     a=6 (6, 3, 1) z=-2: x3 -1, x1 +1 (x6: 0)
  const auto sg = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
  o.mining = "hard";
  o.soft_margin = true;
  check(o, {-sg(-1) / 4, (2 * sg(-2) + 2 * sg(-1) + sg(1)) / 4, -(2 * sg(-2) + sg(-1) + 2 * sg(1)) / 4, sg(1) / 4});
}

TEST(TripletMining, CollapsedBatchGivesMarginAndNoNaN) {
  // every embedding identical: all distances 0, the batch-hard loss is exactly the margin
  // (the collapse failure mode), and every gradient is finite (zero-distance kink -> 0).
  for (const char* mining : {"all", "hard", "semihard"})
    for (const char* dist : {"euclidean", "squared", "cosine"}) {
      SCOPED_TRACE(std::string(mining) + "/" + dist);
      Tensor x = ones({8, 4}).requires_grad_();
      TripletMining o;
      o.mining = mining;
      o.distance = dist;
      Tensor l = batch_triplet_loss(x, labels_of({0, 0, 1, 1, 2, 2, 3, 3}), o);
      EXPECT_NEAR(l.item(), 0.2, 1e-6);
      l.backward();
      for (float v : x.grad().to_vector<float>()) {
        EXPECT_TRUE(std::isfinite(v));
        // every pair sits on the Euclidean kink: no force pulls the points apart again
        if (std::string(dist) == "euclidean") {
          EXPECT_EQ(v, 0.0f);
        }
      }
      // the soft margin: every z = 0, so every triplet costs softplus(0) = log 2
      o.soft_margin = true;
      Tensor xs = ones({8, 4}).requires_grad_();
      Tensor ls = batch_triplet_loss(xs, labels_of({0, 0, 1, 1, 2, 2, 3, 3}), o);
      EXPECT_NEAR(ls.item(), std::log(2.0), 1e-6);
      ls.backward();
      for (float v : xs.grad().to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
    }
}

TEST(TripletMining, CoincidingEmbeddingsAgreeAndStayFinite) {
  // points 0 and 3 coincide (same class), 1 and 4 coincide (different classes): distance exactly 0
  // on both a positive and a negative pair. The kink gives 0 there, in both versions.
  manual_seed(15);
  Tensor base = randn({6, 4}, DType::Float64);
  for (std::int64_t k = 0; k < 4; ++k) {
    base.data<double>()[3 * 4 + k] = base.data<double>()[0 * 4 + k];
    base.data<double>()[4 * 4 + k] = base.data<double>()[1 * 4 + k];
  }
  const Tensor y = labels_of({0, 1, 2, 0, 0, 1});
  for (const TripletMining& o : all_variants()) {
    SCOPED_TRACE(describe(o));
    Tensor x1 = base.clone().requires_grad_(), x2 = base.clone().requires_grad_();
    Tensor a = batch_triplet_loss(x1, y, o), b = batch_triplet_loss_composed(x2, y, o);
    EXPECT_NEAR(a.item(), b.item(), 1e-10);
    a.backward();
    b.backward();
    expect_close(x1.grad(), x2.grad(), 1e-10, 0, "fused vs composed gradient (NaN fails too)");
  }
}

TEST(TripletMining, TiesGoToTheLowestIndex) {
  // 1-D, no normalisation, Euclidean, margin 1.5. Class 0 at x0 = 0, x1 = -1, x2 = 1; class 1 at
  // x3 = -2, x4 = 2. Batch-hard for anchor 0 ties both ways: positives 1 and 2 are both 1 away,
  // negatives 3 and 4 both 2 away; the rule takes the lowest index, p = 1 and n = 3.
  Tensor x = from_vector(std::vector<double>{0, -1, 1, -2, 2}, {5, 1}).requires_grad_();
  const Tensor y = labels_of({0, 0, 0, 1, 1});
  TripletMining o;
  o.normalize = false;
  o.margin = 1.5;
  Tensor l = batch_triplet_loss(x, y, o);
  // anchor: (p*, d_ap) (n*, d_an) l
  //   0: (1, 1) (3, 2) 0.5    1: (2, 2) (3, 1) 2.5    2: (1, 2) (4, 1) 2.5
  //   3: (4, 4) (1, 1) 4.5    4: (3, 4) (2, 1) 4.5                          => mean 14.5 / 5
  EXPECT_NEAR(l.item(), 14.5 / 5, 1e-12);
  l.backward();
  // dl/dx1: anchor 0 (+d|x0-x1|/dx1 = -1), anchor 1 (+d|x1-x2|/dx1 = -1, -d|x1-x3|/dx1 = -1),
  //   anchor 2 (+d|x2-x1|/dx1 = -1), anchor 3 (-d|x3-x1|/dx1 = -1): -5 / 5. (p = 2 for anchor 0: -4/5)
  EXPECT_NEAR(x.grad().at({1, 0}), -1.0, 1e-12);
  // dl/dx3: anchor 0 (-d|x0-x3|/dx3 = +1), anchor 1 (-d|x1-x3|/dx3 = +1), anchor 3 (+d|x3-x4|/dx3 = -1,
  //   -d|x3-x1|/dx3 = +1), anchor 4 (+d|x4-x3|/dx3 = -1): 1 / 5. (n = 4 for anchor 0: 0)
  EXPECT_NEAR(x.grad().at({3, 0}), 0.2, 1e-12);
  // the composed twin (max/min: the first extremum) makes the same choice
  Tensor x2 = x.detach().clone().requires_grad_();
  Tensor l2 = batch_triplet_loss_composed(x2, y, o);
  EXPECT_NEAR(l.item(), l2.item(), 1e-12);
  l2.backward();
  expect_close(x.grad(), x2.grad(), 1e-12, 0, "fused vs composed gradient");
}

TEST(TripletMining, SameResultWithOneOrTwoThreads) {
  manual_seed(16);
  std::vector<std::int64_t> yv(96);
  for (std::int64_t i = 0; i < 96; ++i) yv[i] = i % 8;
  const Tensor y = from_vector(yv, {96});
  const Tensor x0 = randn({96, 8});
  const int saved = num_threads();
  for (const char* mining : {"all", "hard", "semihard"}) {
    SCOPED_TRACE(mining);
    TripletMining o;
    o.mining = mining;
    std::vector<float> grads[2];
    float losses[2];
    for (int t = 0; t < 2; ++t) {
      set_num_threads(t + 1);
      Tensor x = x0.clone().requires_grad_();
      Tensor l = batch_triplet_loss(x, y, o);
      l.backward();
      losses[t] = static_cast<float>(l.item());
      grads[t] = x.grad().to_vector<float>();
    }
    EXPECT_EQ(losses[0], losses[1]);
    EXPECT_EQ(grads[0], grads[1]);  // bit for bit
  }
  set_num_threads(saved);
}

TEST(TripletMining, SkippedAnchorsAndBatchesWithoutTriplets) {
  manual_seed(13);
  // class 2 has one sample: its anchor has no positive and is skipped (and counted)
  TripletMining o;
  TripletStats st;
  Tensor x = randn({5, 3}).requires_grad_();
  batch_triplet_loss(x, labels_of({0, 0, 1, 1, 2}), o, &st);
  EXPECT_EQ(st.skipped_anchors, 1);
  // a single class: no negative anywhere -> loss 0, gradient 0, not NaN
  for (const char* mining : {"all", "hard", "semihard"}) {
    o.mining = mining;
    Tensor z = randn({4, 3}).requires_grad_();
    Tensor l = batch_triplet_loss(z, labels_of({1, 1, 1, 1}), o, &st);
    EXPECT_EQ(l.item(), 0.0);
    EXPECT_EQ(st.skipped_anchors, 4);
    l.backward();
    for (float v : z.grad().to_vector<float>()) EXPECT_EQ(v, 0.0f);
  }
}

TEST(TripletMining, BadInputIsNamed) {
  const Tensor x = randn({4, 3});
  TripletMining o;
  try {
    batch_triplet_loss(x, labels_of({0, -1, 1, 1}), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label -1"), std::string::npos) << e.what();
  }
  Tensor bad = randn({4, 3});
  bad.data<float>()[4] = INFINITY;
  EXPECT_THROW(batch_triplet_loss(bad, labels_of({0, 0, 1, 1}), o), Error);
  EXPECT_THROW(batch_triplet_loss(x, labels_of({0, 0, 1}), o), Error);
  o.margin = -0.1;
  EXPECT_THROW(batch_triplet_loss(x, labels_of({0, 0, 1, 1}), o), Error);
  o = TripletMining{};
  o.mining = "hardest";
  try {
    batch_triplet_loss(x, labels_of({0, 0, 1, 1}), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("all, hard or semihard"), std::string::npos) << e.what();
  }
  o = TripletMining{};
  o.distance = "manhattan";
  try {
    batch_triplet_loss(x, labels_of({0, 0, 1, 1}), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("euclidean, squared or cosine"), std::string::npos) << e.what();
  }
  o = TripletMining{};
  o.reduction = "nonzero";  // only batch-all has it
  EXPECT_THROW(batch_triplet_loss(x, labels_of({0, 0, 1, 1}), o), Error);
}

TEST(TripletMarginLoss, GradcheckAndTwinAgree) {
  manual_seed(14);
  for (bool swap : {false, true})
    for (const char* red : {"none", "mean", "sum"}) {
      SCOPED_TRACE(std::string(red) + (swap ? " swap" : ""));
      const Tensor a = randn({6, 4}, DType::Float64), p = randn({6, 4}, DType::Float64),
                   n = randn({6, 4}, DType::Float64);
      auto r = gradcheck([&](const std::vector<Tensor>& in) { return triplet_margin_loss(in[0], in[1], in[2], 1.0, 1e-6, swap, red); },
                         {a, p, n});
      EXPECT_TRUE(r.ok) << r.report;
      const Tensor f = triplet_margin_loss(a, p, n, 1.0, 1e-6, swap, red);
      const Tensor c = triplet_margin_loss_composed(a, p, n, 1.0, 1e-6, swap, red);
      expect_close(f, c, 1e-12, 0, "fused vs composed value");
    }
  // exactly on the hinge (d_ap - d_an + margin = 0): like PyTorch's clamp_min, the gradient passes
  {
    const Tensor a0 = from_vector(std::vector<double>{0, 0}, {1, 2}), p0 = from_vector(std::vector<double>{1, 0}, {1, 2}),
                 n0 = from_vector(std::vector<double>{0, 2}, {1, 2});
    for (int composed = 0; composed < 2; ++composed) {
      Tensor a = a0.clone().requires_grad_();
      Tensor l = composed ? triplet_margin_loss_composed(a, p0, n0, 1.0, 0.0) : triplet_margin_loss(a, p0, n0, 1.0, 0.0);
      EXPECT_EQ(l.item(), 0.0);
      l.backward();
      // d/da (||a - p|| - ||a - n||) = (a - p)/1 - (a - n)/2 = (-1, 0) - (0, -1)
      EXPECT_NEAR(a.grad().at({0, 0}), -1.0, 1e-12) << composed;
      EXPECT_NEAR(a.grad().at({0, 1}), 1.0, 1e-12) << composed;
    }
  }
  EXPECT_THROW(triplet_margin_loss(zeros({2, 3}), zeros({2, 4}), zeros({2, 3})), Error);
  EXPECT_THROW(triplet_margin_loss(zeros({2, 3}), zeros({2, 3}), zeros({2, 3}), 1.0, 1e-6, false, "max"), Error);
}

TEST(TripletReference, MatchesPyTorch) {
  const reference::Family fam = reference::load_reference("triplet");
  int checked = 0;
  for (const reference::Case& c : fam.cases) {
    SCOPED_TRACE(c.name);
    for (int composed = 0; composed < 2; ++composed) {
      if (c.has_param("loss")) {  // explicit triplets: TripletMarginLoss
        Tensor a = c.input("anchor", true), p = c.input("positive", true), n = c.input("negative", true);
        auto f = composed ? triplet_margin_loss_composed : triplet_margin_loss;
        const Tensor out = f(a, p, n, c.param("margin"), c.param("eps"), c.param_bool("swap"), c.param_str("reduction"));
        EXPECT_TRUE(reference::close(out, c.output("loss"), 1e-10, 1e-10)) << "loss";
        c.objective(out).backward();
        EXPECT_TRUE(reference::close(a.grad(), c.grad("anchor"), 1e-10, 1e-10)) << "d anchor";
        EXPECT_TRUE(reference::close(p.grad(), c.grad("positive"), 1e-10, 1e-10)) << "d positive";
        EXPECT_TRUE(reference::close(n.grad(), c.grad("negative"), 1e-10, 1e-10)) << "d negative";
      } else {  // in-batch mining
        TripletMining o;
        o.mining = c.param_str("mining");
        o.distance = c.param_str("distance");
        o.margin = c.param("margin");
        o.soft_margin = c.param_bool("soft_margin");
        o.normalize = c.param_bool("normalize");
        if (c.has_param("reduction")) o.reduction = c.param_str("reduction");
        Tensor X = c.input("X", true);
        TripletStats st;
        const Tensor out = composed ? batch_triplet_loss_composed(X, c.input("labels"), o)
                                    : batch_triplet_loss(X, c.input("labels"), o, &st);
        EXPECT_TRUE(reference::close(out, c.output("loss"), 1e-10, 1e-10)) << "loss";
        if (!composed) {
          EXPECT_EQ(st.skipped_anchors, c.output("skipped_anchors").item()) << "skipped anchors";
        }
        out.backward();
        EXPECT_TRUE(reference::close(X.grad(), c.grad("X"), 1e-10, 1e-10)) << "dX";
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, 60);
}

TEST(TripletLossModule, OptionsDefaultsAndRegistry) {
  LossOptions lo;
  TripletLoss t(lo);
  EXPECT_TRUE(t.wants_pk_batches());
  EXPECT_EQ(t.mining().margin, TripletMining{}.margin);
  EXPECT_TRUE(t.mining().normalize);
  EXPECT_FALSE(t.mining().reduction);  // the mining's own: mean for hard
  EXPECT_FALSE(t.logits(randn({4, 3})).defined());  // evaluation: nearest class mean
  // the module keeps the last batch's counts: one singleton class -> one skipped anchor
  t.forward(randn({5, 3}), labels_of({0, 0, 1, 1, 2}));
  EXPECT_EQ(t.last_stats().skipped_anchors, 1);
  EXPECT_EQ(t.last_stats().triplets, 4);  // batch-hard: one triplet per remaining anchor
  t.forward(randn({4, 3}), labels_of({0, 0, 1, 1}));
  EXPECT_EQ(t.last_stats().skipped_anchors, 0);
  auto reg = make_loss("triplet", lo);
  EXPECT_TRUE(reg->wants_pk_batches());
  lo.set("mining", "bogus");
  expect_error([&] { TripletLoss{lo}; }, {"triplet loss: option 'mining'", "expected one of all, hard, semihard", "'bogus'"});
  lo.values = {{"reduction", "nonzero"}};  // batch-all's only
  expect_error([&] { TripletLoss{lo}; }, {"reduction 'nonzero' does not apply to hard mining"});
  lo.values = {{"scale", 30.0}};
  expect_error([&] { TripletLoss{lo}; },
               {"triplet loss: has no option 'scale'", describe_option_names(find_loss("triplet").options)});
}

// Every triplet exactly on the hinge's edge (z + alpha = 0 in exact arithmetic): class 0 at
// (0, 0), (1, 0), class 1 at (0, 2), (1, 2). Each anchor's positive is at distance 1 (squared 1),
// its negatives at 2 and sqrt 5 (squared 4 and 5). With alpha = 1 (Euclidean) or 3 (squared)
// the nearest negative gives z + alpha = 0 exactly and the other one -0.24 or -1: for every
// mining (all: every triplet; hard: hardest positive 1, hardest negative 2; semihard: the nearest
// negative farther than the positive, 2) the loss is 0 and, with relu's slope 0 at the edge,
// so is every gradient. (TF-addons' tf.maximum would give slope 1 here: docs/losses/triplet.md §5.)
TEST(TripletMining, SlopeIsZeroAtExactEquality) {
  const Tensor x0 = from_vector(std::vector<double>{0, 0, 1, 0, 0, 2, 1, 2}, {4, 2});
  const Tensor y = labels_of({0, 0, 1, 1});
  for (const char* mining : {"all", "hard", "semihard"})
    for (const char* distance : {"euclidean", "squared"})
      for (int composed = 0; composed < 2; ++composed) {
        TripletMining o;
        o.mining = mining;
        o.distance = distance;
        o.normalize = false;
        o.margin = std::string(distance) == "squared" ? 3.0 : 1.0;
        SCOPED_TRACE(describe(o) + (composed ? " composed" : " fused"));
        Tensor x = x0.clone().requires_grad_();
        TripletStats stats;
        Tensor L = composed ? batch_triplet_loss_composed(x, y, o) : batch_triplet_loss(x, y, o, &stats);
        EXPECT_EQ(L.to_vector<double>()[0], 0.0);
        L.backward();
        for (double g : x.grad().to_vector<double>()) EXPECT_EQ(g, 0.0);
        if (!composed) {
          EXPECT_EQ(stats.active, 0);
        }
        // just inside the edge (alpha + 1/64): every edge triplet is active and sends slope 1
        o.margin += 1.0 / 64;
        Tensor x2 = x0.clone().requires_grad_();
        Tensor L2 = composed ? batch_triplet_loss_composed(x2, y, o) : batch_triplet_loss(x2, y, o);
        EXPECT_NEAR(L2.to_vector<double>()[0], 1.0 / 64, 1e-15);
        L2.backward();
        double n = 0;
        for (double g : x2.grad().to_vector<double>()) n += std::fabs(g);
        EXPECT_GT(n, 0.1);
      }
}

// The one-row pieces the two losses are built from (exercise 08's functions) name what does not fit.
TEST(TripletRows, BadInputIsNamed) {
  using chalk::test_util::expect_error;
  const std::vector<double> row = {0, 1, 2, 3}, three = {0, 1, 2}, two = {0, 1};
  const std::vector<float> rowf = {0, 1, 2, 3};
  const std::vector<std::int64_t> y4 = {0, 0, 1, 1}, y3 = {0, 0, 1};
  expect_error([&] { batch_hard_pair<double>(4, std::span<const double>(row), std::span<const std::int64_t>(y4)); },
               {"batch_hard_pair: anchor 4 is outside [0, 4)"});
  expect_error([&] { batch_hard_pair<float>(0, std::span<const float>(rowf), std::span<const std::int64_t>(y3)); },
               {"batch_hard_pair: 4 distances but 3 labels"});
  expect_error([&] { triplet_distances<double>(three, two, three, 1e-6, false); },
               {"triplet_distances: anchor, positive and negative rows must have the same length, got 3, 2, 3"});
  std::vector<double> da(3), dp(3), dn(2);
  const TripletDistances t = triplet_distances<double>(three, three, three, 1e-6, false);
  expect_error([&] { triplet_margin_vjp<double>(three, three, three, t, 1.0, 1e-6, 1.0, da, dp, dn); },
               {"triplet_margin_vjp: the rows a, p, n, da, dp, dn must all have D = 3 values, got 3, 3, 3, 3, 2"});
}
