#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H
#include <cblas.h>

// LAPACK's symmetric eigensolver (divide and conquer), from OpenBLAS's bundled LAPACK.
// Declared here because Debian ships lapacke.h in a separate package.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);
#endif
