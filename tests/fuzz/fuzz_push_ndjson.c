/* libFuzzer target: store_push of ndjson input (parse, validate, write). */
#define FUZZ_PUSH_FORMAT PUSH_NDJSON
#include "fuzz_push.h"
