// ---- exercise 02 whole file ----
// tests/exercises/mistakes_02_accumulate_gradients.cpp — wrong answers to exercise 02
// (accumulate_gradient and accumulate_grad) that students write, and the diagnosis
// docs/exercises/02-accumulate-gradients.md promises for each. A student edition that blanks
// exercise 02 leaves this file out. Each wrong function is paired with chalk's own other one.
#include <gtest/gtest.h>

#include "core/autograd.h"
#include "ops/elementwise.h"
#include "tests/exercises/check_02_accumulate_gradients.h"

using namespace chalk;
using namespace chalk::checker;

namespace {

// a += b in a's data, by hand (add_in_place is private to core/autograd.cpp); `bump` says
// whether the write is announced with increment_version
void add_into(Tensor a, const Tensor& b, bool bump = true) {
  dispatch_float(a.dtype(), "add_into", [&](auto tag) {
    using T = decltype(tag);
    T* pa = a.data<T>();
    const T* pb = b.data<T>();
    for (std::int64_t i = 0; i < a.numel(); ++i) pa[i] += pb[i];
  });
  if (bump) increment_version(a);
}

Verdict check_sum(const AccumulateGradient& wrong) { return check_02(wrong, chalk::accumulate_grad, false); }
Verdict check_leaf(const AccumulateGrad& wrong) { return check_02(chalk::accumulate_gradient, wrong, false); }

}  // namespace

// the pending gradient overwritten by each new contribution: only the last use counts
TEST(Exercise02Checker, RecognisesOnlyOnePathSurviving) {
  const Verdict v = check_sum([](Tensor& pending, const Tensor& contribution) { pending = contribution; });
  EXPECT_EQ(v.kind, "one-path") << v.text;
  EXPECT_NE(v.text.find("only one path's gradient survives"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("the contribution of sin y alone"), std::string::npos) << v.text;
}

// only the first contribution kept (the `else` that adds never written)
TEST(Exercise02Checker, RecognisesOnlyTheFirstPathKept) {
  const Verdict v = check_sum([](Tensor& pending, const Tensor& contribution) {
    if (!pending.defined()) pending = contribution;
  });
  EXPECT_EQ(v.kind, "one-path") << v.text;
  EXPECT_NE(v.text.find("the contribution of 2y alone"), std::string::npos) << v.text;
}

// the sum written in place into the first contribution, which the engine may share
TEST(Exercise02Checker, RecognisesASumWrittenIntoASharedContribution) {
  const Verdict v = check_sum([](Tensor& pending, const Tensor& contribution) {
    if (!pending.defined()) pending = contribution;
    else add_into(pending, contribution);
  });
  EXPECT_EQ(v.kind, "aliasing") << v.text;
  EXPECT_NE(v.text.find("wrote into a tensor it was handed"), std::string::npos) << v.text;
}

// .grad() set to each new contribution: a second backward() call replaces the first
TEST(Exercise02Checker, RecognisesAGradOverwrittenByASecondBackward) {
  const Verdict v = check_leaf([](const Tensor& leaf, Tensor contribution) {
    leaf.impl()->grad = contribution.clone().detach().impl_ptr();
  });
  EXPECT_EQ(v.kind, "overwritten") << v.text;
  EXPECT_NE(v.text.find(".grad() was overwritten by the second backward() call"), std::string::npos) << v.text;
}

// the first contribution stored and then added again (the `else` forgotten)
TEST(Exercise02Checker, RecognisesTheFirstContributionCountedTwice) {
  const Verdict v = check_leaf([](const Tensor& leaf, Tensor contribution) {
    if (!leaf.impl()->grad) leaf.impl()->grad = contribution.clone().detach().impl_ptr();
    add_into(Tensor(leaf.impl()->grad), contribution);
  });
  EXPECT_EQ(v.kind, "factor") << v.text;
  EXPECT_NE(v.text.find("yours is 2x the true gradient: the first contribution was counted twice"), std::string::npos)
      << v.text;
}

// the first contribution kept as .grad() without a copy, then added to in place
TEST(Exercise02Checker, RecognisesAGradAliasingAContributionOthersHold) {
  const Verdict v = check_leaf([](const Tensor& leaf, Tensor contribution) {
    if (!leaf.impl()->grad) leaf.impl()->grad = contribution.detach().impl_ptr();
    else add_into(Tensor(leaf.impl()->grad), contribution);
  });
  EXPECT_EQ(v.kind, "aliasing") << v.text;
  EXPECT_NE(v.text.find("the g handed to both leaves"), std::string::npos) << v.text;
}

// the sum made as a new tensor that replaces .grad(): right values, but a held handle goes stale
TEST(Exercise02Checker, RecognisesAGradReplacedInsteadOfAddedTo) {
  const Verdict v = check_leaf([](const Tensor& leaf, Tensor contribution) {
    const Tensor old = leaf.grad();
    leaf.impl()->grad = (old.defined() ? add(old, contribution) : contribution.clone()).detach().impl_ptr();
  });
  EXPECT_EQ(v.kind, "replaced") << v.text;
  EXPECT_NE(v.text.find("not added to in place"), std::string::npos) << v.text;
}

// .grad() added to in place by hand, without increment_version
TEST(Exercise02Checker, RecognisesAnInPlaceWriteWithoutAVersionBump) {
  const Verdict v = check_leaf([](const Tensor& leaf, Tensor contribution) {
    if (!leaf.impl()->grad) leaf.impl()->grad = contribution.clone().detach().impl_ptr();
    else add_into(Tensor(leaf.impl()->grad), contribution, /*bump=*/false);
  });
  EXPECT_EQ(v.kind, "version") << v.text;
  EXPECT_NE(v.text.find("its version was not bumped"), std::string::npos) << v.text;
}
