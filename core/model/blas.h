// Matrix products on row-major CPU buffers through the BLAS LibTorch itself runs on (Debian: OpenBLAS), called
// directly: for the small products of one expert or one generated character, at::mm_out's dispatch, checks and
// views cost more than the product (about 2.5 us each). Where the build links no BLAS (a CUDA LibTorch bundles
// its own), the same products go through ATen on views of the buffers.
#pragma once

#include <cstdint>

namespace moewb::blas {

// C (m x n, leading dimension ldc) = op(A) op(B) + beta C; op transposes where asked. Row-major A (lda) and B (ldb).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
          int64_t ldb, double beta, double* c, int64_t ldc);

// y (m) = A x + beta y for row-major A (m x n, leading dimension lda) and x (n).
void gemv(int64_t m, int64_t n, const float* a, int64_t lda, const float* x, float beta, float* y);

}  // namespace moewb::blas
