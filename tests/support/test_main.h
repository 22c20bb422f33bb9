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

#define AH_TEST_MAIN(tests)                                                    \
  int main(int argc, char **argv) {                                            \
    if (argc > 1)                                                              \
      cmocka_set_test_filter(argv[1]);                                         \
    return cmocka_run_group_tests(tests, NULL, NULL);                          \
  }

#endif
