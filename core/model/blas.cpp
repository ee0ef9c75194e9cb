#include "core/model/blas.h"

#include <torch/torch.h>

#include <type_traits>

#ifdef MOEWB_BLAS
extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c, const int* ldc);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc);
void sgemv_(const char* trans, const int* m, const int* n, const float* alpha, const float* a, const int* lda,
            const float* x, const int* incx, const float* beta, float* y, const int* incy);
}
#endif

namespace moewb::blas {

namespace {

// Column-major BLAS sees each row-major matrix transposed, so it computes C^T = op(B)^T op(A)^T.
template <typename T>
void gemm_any(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
              int64_t ldb, T beta, T* c, int64_t ldc) {
#ifdef MOEWB_BLAS
  const char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  const int LDA = static_cast<int>(lda), LDB = static_cast<int>(ldb), LDC = static_cast<int>(ldc);
  const T one = 1;
  if constexpr (std::is_same_v<T, float>) sgemm_(&tb, &ta, &N, &M, &K, &one, b, &LDB, a, &LDA, &beta, c, &LDC);
  else dgemm_(&tb, &ta, &N, &M, &K, &one, b, &LDB, a, &LDA, &beta, c, &LDC);
#else
  const auto opts = torch::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  auto view = [&](const T* p, int64_t rows, int64_t cols, int64_t ld) {
    return torch::from_blob(const_cast<T*>(p), {rows, cols}, {ld, 1}, opts);
  };
  const auto A = trans_a ? view(a, k, m, lda).t() : view(a, m, k, lda);
  const auto B = trans_b ? view(b, n, k, ldb).t() : view(b, k, n, ldb);
  auto C = view(c, m, n, ldc);
  at::addmm_out(C, C, A, B, beta, 1);
#endif
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_any(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
          int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm_any(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void gemv(int64_t m, int64_t n, const float* a, int64_t lda, const float* x, float beta, float* y) {
#ifdef MOEWB_BLAS
  // the row-major A is the column-major A^T (n x m): y = (A^T)^T x
  const char trans = 'T';
  const int M = static_cast<int>(n), N = static_cast<int>(m), LDA = static_cast<int>(lda), one_step = 1;
  const float one = 1;
  sgemv_(&trans, &M, &N, &one, a, &LDA, x, &one_step, &beta, y, &one_step);
#else
  gemm_any(false, false, m, 1, n, a, lda, x, 1, beta, y, 1);
#endif
}

}  // namespace moewb::blas
