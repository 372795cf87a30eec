// ---- exercise 06 whole file ----
// tests/exercises/mistakes_06_conv2d_backward.cpp — wrong answers to exercise 06 (col2im and the
// weight gradient) that students write, and the diagnosis docs/exercises/06-conv2d-backward.md
// promises for each. A student edition that blanks exercise 06 leaves this file out.
#include <gtest/gtest.h>

#include "core/gemm.h"
#include "tests/exercises/check_06_conv2d_backward.h"

using namespace chalk;
using namespace chalk::checker;

namespace {

// col2im as chalk writes it, but with `assign` where the entry meets its pixel
template <class T, bool Copy, bool UnpaddedRows>
void col2im_variant(const T* dcol, T* dxp, std::int64_t i0, std::int64_t i1, const ConvGeometry& g) {
  const std::int64_t L = (i1 - i0) * g.OW;
  // the padded buffer's sizes, or (the padding mistake) the image's own
  const std::int64_t Hp = UnpaddedRows ? g.H : g.H + 2 * g.pad, Wp = UnpaddedRows ? g.W : g.W + 2 * g.pad;
  for (std::int64_t c = 0; c < g.C; ++c)
    for (std::int64_t p = 0; p < g.KH; ++p)
      for (std::int64_t q = 0; q < g.KW; ++q)
        for (std::int64_t i = i0; i < i1; ++i)
          for (std::int64_t j = 0; j < g.OW; ++j) {
            T& dst = dxp[(c * Hp + i * g.stride + p) * Wp + j * g.stride + q];
            const T v = dcol[((c * g.KH + p) * g.KW + q) * L + (i - i0) * g.OW + j];
            if (Copy) dst = v; else dst += v;
          }
}

// dW^T += col g^T, right
template <class T>
void weight_grad_right(const T* col, const T* g, std::int64_t ldg, std::int64_t L, T* dwt, const ConvGeometry& geo) {
  gemm<T>(false, true, geo.patch(), geo.O, L, T(1), col, L, g, ldg, T(1), dwt, geo.O);
}
// beta = 0: each image overwrites the running sum
template <class T>
void weight_grad_overwrites(const T* col, const T* g, std::int64_t ldg, std::int64_t L, T* dwt, const ConvGeometry& geo) {
  gemm<T>(false, true, geo.patch(), geo.O, L, T(1), col, L, g, ldg, T(0), dwt, geo.O);
}
// dW = g col^T (O x K) written where dW^T (K x O) belongs
template <class T>
void weight_grad_transposed(const T* col, const T* g, std::int64_t ldg, std::int64_t L, T* dwt, const ConvGeometry& geo) {
  gemm<T>(false, true, geo.O, geo.patch(), L, T(1), g, ldg, col, L, T(1), dwt, geo.patch());
}

template <bool Copy, bool UnpaddedRows>
Conv2dBackward with_col2im() {
  return {col2im_variant<double, Copy, UnpaddedRows>, weight_grad_right<double>, col2im_variant<float, Copy, UnpaddedRows>,
          weight_grad_right<float>};
}

}  // namespace

// the variant that adds is right: the check passes it (so the others fail for their mistake)
TEST(Exercise06Checker, PassesAPlainLoopThatAdds) {
  const Verdict v = check_06(with_col2im<false, false>());
  EXPECT_TRUE(v.passed) << v.text;
}

// col2im copies each entry to its pixel instead of adding it
TEST(Exercise06Checker, RecognisesACopyInsteadOfAnAdd) {
  const Verdict v = check_06(with_col2im<true, false>());
  EXPECT_EQ(v.kind, "overlap") << v.text;
  EXPECT_NE(v.text.find("pixels seen by several windows keep only one window's gradient"), std::string::npos) << v.text;
}

// col2im indexes the padded buffer with the image's own sizes (rows of W, planes of H rows)
TEST(Exercise06Checker, RecognisesTheUnpaddedGeometry) {
  const Verdict v = check_06(with_col2im<false, true>());
  EXPECT_EQ(v.kind, "padding") << v.text;
  EXPECT_NE(v.text.find("right without padding, wrong with it"), std::string::npos) << v.text;
}

// the weight gradient overwrites the running sum: only the last image's part survives
TEST(Exercise06Checker, RecognisesAWeightGradientNotSummedOverImages) {
  const Verdict v = check_06({col2im_variant<double, false, false>, weight_grad_overwrites<double>,
                              col2im_variant<float, false, false>, weight_grad_overwrites<float>});
  EXPECT_EQ(v.kind, "images") << v.text;
  EXPECT_NE(v.text.find("not summed over the images"), std::string::npos) << v.text;
}

// dW (O x K) accumulated where dW^T (K x O) belongs
TEST(Exercise06Checker, RecognisesATransposedWeightGradient) {
  const Verdict v = check_06({col2im_variant<double, false, false>, weight_grad_transposed<double>,
                              col2im_variant<float, false, false>, weight_grad_transposed<float>});
  EXPECT_EQ(v.kind, "transpose") << v.text;
  EXPECT_NE(v.text.find("dwt holds dW^T"), std::string::npos) << v.text;
}
