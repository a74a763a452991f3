/* NEON kernels (compiled for AArch64 only). */
#include "quant/kernels_internal.h"

void ffl_kernels_fill_neon(ffl_kernel_table *t, int dotprod) { (void)t; (void)dotprod; }
