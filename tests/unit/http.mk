# tests/unit/http.mk - the host HTTP client's unit test (core/http.c),
# against an in-test libmicrohttpd server; `make valgrind` runs it too.

check_PROGRAMS += tests/unit/test_http
PLUGIN_UNIT_TESTS += tests/unit/test_http
tests_unit_test_http_SOURCES = tests/unit/test_http.c
tests_unit_test_http_CFLAGS = $(UNIT_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) \
	-pthread
tests_unit_test_http_LDFLAGS = -pthread
tests_unit_test_http_LDADD = $(UNIT_LDADD) $(MHD_LIBS)
