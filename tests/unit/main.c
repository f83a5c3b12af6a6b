/*
 * Runs every unit test suite and prints Check's summary. Exits 1 when any
 * test fails or errors. Set CK_FORK=no to debug a test in gdb.
 */
#include <check.h>
#include <stdlib.h>

#include "suites.h"

int main(void)
{
    SRunner *runner;
    int failed;

    runner = srunner_create(suite_session());
    srunner_add_suite(runner, suite_path());
    srunner_add_suite(runner, suite_output());
    srunner_add_suite(runner, suite_server());
    srunner_add_suite(runner, suite_body());
    srunner_add_suite(runner, suite_auth());
    srunner_add_suite(runner, suite_tls());
    srunner_add_suite(runner, suite_fdwrite());

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
