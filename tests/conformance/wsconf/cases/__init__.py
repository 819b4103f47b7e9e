"""The case families, numbered as in the Autobahn testsuite (0 is ours:
the opening handshake). Each module has FAMILY (its title) and
cases(target) -> [Case]."""
from . import (c0_handshake, c1_framing, c2_pings, c3_reserved, c4_opcodes, c5_fragments,
               c6_utf8, c7_close, c9_limits)

FAMILIES = [c0_handshake, c1_framing, c2_pings, c3_reserved, c4_opcodes, c5_fragments, c6_utf8,
            c7_close, c9_limits]
