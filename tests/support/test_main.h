/*
 * test_main.h - the main() of every cmocka suite. CTest runs one test per
 * process by passing its name, so each behaviour is its own CTest entry.
 */
#ifndef AH_TEST_MAIN_H
#define AH_TEST_MAIN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

/* A name that matches no test is an error, not an empty pass. */
#define AH_TEST_MAIN(tests)                                                    \
  int main(int argc, char **argv) {                                            \
    size_t i_, found_ = argc < 2;                                              \
    for (i_ = 0; argc > 1 && i_ < sizeof(tests) / sizeof((tests)[0]); i_++)    \
      if (strcmp((tests)[i_].name, argv[1]) == 0)                              \
        found_ = 1;                                                            \
    if (!found_) {                                                             \
      fprintf(stderr, "no test named %s\n", argv[1]);                          \
      return 1;                                                                \
    }                                                                          \
    if (argc > 1)                                                              \
      cmocka_set_test_filter(argv[1]);                                         \
    return cmocka_run_group_tests(tests, NULL, NULL);                          \
  }

#endif
