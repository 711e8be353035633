#ifndef WINNOW_COPENBLAS_SHIM_H
#define WINNOW_COPENBLAS_SHIM_H
// Debian's libopenblas-dev installs cblas.h (with the openblas_* extensions)
// on the default include path; liblapacke-dev installs lapacke.h.
#include <cblas.h>
#include <lapacke.h>
#endif
