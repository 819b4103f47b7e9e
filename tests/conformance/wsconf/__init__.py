"""channels-c's own RFC 6455 conformance suite (the case families of the
Autobahn testsuite), over raw sockets. See tests/conformance/run.py."""
