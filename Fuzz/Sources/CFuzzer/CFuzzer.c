/* Header-only: the declaration of LLVMFuzzerRunDriver, which -sanitize=fuzzer links. */
#include "CFuzzer.h"
