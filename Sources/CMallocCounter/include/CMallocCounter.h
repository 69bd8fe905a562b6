#ifndef FLOWMON_CMALLOCCOUNTER_H
#define FLOWMON_CMALLOCCOUNTER_H
#include <stdint.h>

/// 1 when allocations are counted; 0 in a sanitizer build (the sanitizer owns malloc).
int flowmon_malloc_counter_available(void);
/// Starts counting heap allocations made by the calling thread (test support only).
void flowmon_malloc_counter_start(void);
/// Stops counting and returns how many allocations the calling thread made since start.
uint64_t flowmon_malloc_counter_stop(void);

#endif
