/* avx2 kernels (compiled with the matching -m flags only). */
#include "quant/kernels_internal.h"

void ffl_kernels_fill_avx2(ffl_kernel_table *t) { (void)t; }
