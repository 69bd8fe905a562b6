// Counts heap allocations per thread by interposing the allocator entry points, the way
// SwiftNIO's allocation-counter tests and ordo-one's malloc-interposer do. Linked only into
// the test executable; every call forwards to glibc's implementation.
//
// Under AddressSanitizer or ThreadSanitizer the sanitizer owns malloc: interposing it here would
// bypass the sanitizer's allocator (and its reports), so the counter is compiled out and
// `flowmon_malloc_counter_available()` says so; the allocation tests are skipped in those runs.
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include "CMallocCounter.h"

#if defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define FLOWMON_SANITIZED 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define FLOWMON_SANITIZED 1
#endif

#ifdef FLOWMON_SANITIZED
int flowmon_malloc_counter_available(void) { return 0; }
void flowmon_malloc_counter_start(void) {}
uint64_t flowmon_malloc_counter_stop(void) { return 0; }
#else
int flowmon_malloc_counter_available(void) { return 1; }

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static __thread int counting;
static __thread uint64_t allocations;

static inline void note(void) {
    if (counting) allocations++;
}

void *malloc(size_t size) { note(); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { note(); return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { note(); return __libc_realloc(pointer, size); }
void free(void *pointer) { __libc_free(pointer); }
void *memalign(size_t alignment, size_t size) { note(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { note(); return __libc_memalign(alignment, size); }
int posix_memalign(void **result, size_t alignment, size_t size) {
    note();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

void flowmon_malloc_counter_start(void) { allocations = 0; counting = 1; }
uint64_t flowmon_malloc_counter_stop(void) { counting = 0; return allocations; }
#endif
