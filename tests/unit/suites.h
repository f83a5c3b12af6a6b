/*
 * The Check suites of the unit test binary, one per core file.
 */
#ifndef SC_TEST_SUITES_H
#define SC_TEST_SUITES_H

#include <check.h>

Suite *suite_auth(void);
Suite *suite_session(void);
Suite *suite_path(void);
Suite *suite_output(void);
Suite *suite_server(void);
Suite *suite_body(void);
Suite *suite_tls(void);
Suite *suite_fdwrite(void);

#endif
