// flowmon-fuzz is libFuzzer's program: built with `swift build --sanitize=fuzzer`, SwiftPM compiles
// it with -parse-as-library and libFuzzer's own main() runs it, calling LLVMFuzzerInitialize and
// LLVMFuzzerTestOneInput (Sources/flowmon-fuzz/main.swift). A plain `swift build` (or
// `swift test`) still builds and links the product, with no fuzzer: libFuzzer's driver is then
// absent, the weak reference below is null, and the program says so and exits before main.
#include "CFuzzerRuntime.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((weak)) int LLVMFuzzerRunDriver(int *argc, char ***argv,
                                              int (*callback)(const uint8_t *data, size_t size));

int flowmon_fuzzer_linked(void) { return LLVMFuzzerRunDriver != NULL; }

__attribute__((constructor)) static void flowmon_fuzzer_require_runtime(void) {
    if (!flowmon_fuzzer_linked()) {
        fputs("flowmon-fuzz: built without -sanitize=fuzzer; use scripts/fuzz\n", stderr);
        _exit(2);
    }
}
