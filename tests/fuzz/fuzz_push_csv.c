/* libFuzzer target: store_push of csv input (parse, validate, write). */
#define FUZZ_PUSH_FORMAT PUSH_CSV
#include "fuzz_push.h"
