/* fuzz.h - helpers shared by the libFuzzer harnesses in tests/fuzz/ */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdio.h>
#include <stdlib.h>

/* CHECK - an invariant; a failure aborts, which libFuzzer records as a
 * crash with the input that caused it */
#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",  \
				__FILE__, __LINE__, #cond);               \
			abort();                                          \
		}                                                         \
	} while (0)

#endif
