// Returning freed heap pages to the operating system, once a model is loaded: parsing a GGUF file
// builds many temporary objects, and glibc keeps their pages resident until told otherwise.
#include "agora_kernels.h"
#if defined(__GLIBC__)
#include <malloc.h>
void agora_trim_heap(void) { malloc_trim(0); }
#else
void agora_trim_heap(void) {}
#endif
