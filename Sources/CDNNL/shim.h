#ifndef CDNNL_SHIM_H
#define CDNNL_SHIM_H
#include <dnnl.h>
#include <dnnl_debug.h>

// Debian's oneDNN runs on GNU OpenMP (libgomp). Its thread count is a per-thread OpenMP
// setting, so every thread that calls oneDNN sets it. Declared here because omp.h sits in
// GCC's private include folder.
void omp_set_num_threads(int num_threads);
int omp_get_max_threads(void);
#endif
