#ifndef FLOWMON_CFUZZERRUNTIME_H
#define FLOWMON_CFUZZERRUNTIME_H

/// Nonzero when libFuzzer is linked in (built with `--sanitize=fuzzer`). In any other build,
/// a constructor in this module has already printed why and exited with status 2, before main.
int flowmon_fuzzer_linked(void);

#endif
