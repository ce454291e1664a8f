/* libFuzzer target: store_push of json input (parse, validate, write). */
#define FUZZ_PUSH_FORMAT PUSH_JSON
#include "fuzz_push.h"
