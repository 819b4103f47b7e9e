#!/usr/bin/env python3
"""selftest.py - check_deps.py against small made-up trees: a clean one
passes, and each kind of violation is named with its file:line (so the
check cannot pass by finding nothing). Python 3 standard library only."""

import os
import subprocess
import sys
import tempfile

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'check_deps.py')

# A tree that follows every rule: each module's public header, a framework
# chain, a leaf using util, internals used by their own unit test and fuzz
# target, a client using public headers.
CLEAN = {
    'util/log.h': '',
    'util/error.h': '',
    'util/log.c': '#include "log.h"\n',
    'channels/layer.h': '#include <stddef.h>\n',
    'channels/layer_int.h': '#include "layer.h"\n',
    'channels/layer.c': '#include "layer_int.h"\n#include "log.h"\n',
    'consumers/consumer.h': '#include "layer.h"\n',
    'consumers/jsondec.c': '#include "consumer.h"\n#include "http.h"\n',
    'consumers/consumer_int.h': '',
    'server/server.h': '#include "consumer.h"\n',
    'server/server_int.h': '#include <libwebsockets.h>\n#include "server.h"\n',
    'server/ws_conn.c': '#include "server_int.h"\n#include "wsframe.h"\n',
    'apps/apps.h': '#include "server.h"\n',
    'apps/main.c': '#include "apps.h"\n#include "log.h"\n',
    'apps/chat/chat.h': '#include "server.h"\n',
    'apps/chat/chat.c': '#include "chat.h"\n#include "routing.h"\n',
    'routing/routing.h': '',
    'lib/http/http.h': '',
    'lib/http/http_int.h': '',
    'lib/http/h1.c': '#include "http_int.h"\n#include "llhttp.h"\n#include "log.h"\n',
    'lib/template/template.h': '',
    'lib/wsframe/wsframe.h': '',
    'lib/wsframe/wsframe.c': '#include "wsframe.h"\n#include "text.h"\n',
    'lib/text/text.h': '',
    'tools/client/client.h': '',
    'tools/client/client_int.h': '#include "client.h"\n',
    'tools/benchmark/bench.h': '#include "client.h"\n#include "layer.h"\n',
    'tests/check.h': '',
    'tests/unit/http/test_http.c': '#include "check.h"\n#include "http_int.h"\n',
    'tests/unit/client/test_client.c': '#include "client_int.h"\n',
    'fuzz/fuzz_h1.c': '#include "http_int.h"\n',
    'fuzz/fuzz_jsondec.c': '#include "consumer_int.h"\n',
}

ARROWS = """apps      -> server util
chat      -> server routing
server    -> consumers wsframe
consumers -> channels http
channels  -> util
http      -> util
wsframe   -> text
benchmark -> channels client
tests     -> http client
fuzz      -> consumers http"""

# (name, files to add or replace, [(file:line, words of the message)])
CASES = [
    ('back edge', {'consumers/scope.c': '#include "consumer.h"\n#include "server.h"\n'},
     [('consumers/scope.c:2:', 'back edge consumers -> server')]),
    ('leaf uses framework', {'lib/template/env.c': '#include "layer.h"\n'},
     [('lib/template/env.c:1:', 'leaf library template may use only util')]),
    ('leaf uses leaf', {'routing/routing.c': '\n#include "http.h"\n'},
     [('routing/routing.c:2:', 'leaf library routing may use only util')]),
    ('text uses a leaf', {'lib/text/utf8.c': '#include "text.h"\n#include "http.h"\n'},
     [('lib/text/utf8.c:2:', 'leaf library text may use only util and text, not http')]),
    ('util uses a leaf', {'util/log.c': '#include "log.h"\n#include "routing.h"\n'},
     [('util/log.c:2:', 'util is below the leaf libraries')]),
    ('framework uses a tool', {'server/cli.c': '#include "client.h"\n'},
     [('server/cli.c:1:', 'may not use client code')]),
    ('internal header of another module',
     {'tools/benchmark/run.c': '#include "client_int.h"\n'},
     [('tools/benchmark/run.c:1:', '"client_int.h" is internal to client')]),
    ('internal header from another unit test',
     {'tests/unit/consumers/test_x.c': '#include "http_int.h"\n'},
     [('tests/unit/consumers/test_x.c:1:', '"http_int.h" is internal to http')]),
    ('lws in a leaf library', {'lib/wsframe/wsframe.c': '#include  <libwebsockets.h>\n'},
     [('lib/wsframe/wsframe.c:1:', '<libwebsockets.h> in wsframe')]),
    ('lws in util', {'util/log.c': '#include "log.h"\n# include <libwebsockets.h>\n'},
     [('util/log.c:2:', '<libwebsockets.h> in util')]),
    ('a second public header', {'channels/layer_wire.h': ''},
     [('channels/layer_wire.h:1:', 'name an internal header *_int.h')]),
    ('a file outside every module', {'misc/x.c': ''},
     [('misc/x.c:1:', 'belongs to no module')]),
    ('a project header with <>', {'apps/chat.c': '#include <apps.h>\n'},
     [('apps/chat.c:1:', 'include it with ""')]),
    ('two headers of one name', {'tests/log.h': ''},
     [('util/log.h:1:', 'header name log.h is not unique'),
      ('channels/layer.c:2:', '"log.h" is ambiguous'),
      ('apps/main.c:2:', '"log.h" is ambiguous'),
      ('lib/http/h1.c:3:', '"log.h" is ambiguous')]),
    ('an app uses another app',
     {'apps/gossip/gossip.h': '', 'apps/gossip/gossip.c': '#include "gossip.h"\n#include "chat.h"\n'},
     [('apps/gossip/gossip.c:2:', 'app gossip may not use another app (chat)')]),
    ('the framework uses an app', {'server/apps.c': '#include "chat.h"\n'},
     [('server/apps.c:1:', 'the framework knows no app: server may not use app chat')]),
    ('an app uses the list', {'apps/chat/list.c': '#include "apps.h"\n'},
     [('apps/chat/list.c:1:', 'back edge chat -> apps')]),
    ('an app with a second public header', {'apps/chat/room.h': ''},
     [('apps/chat/room.h:1:', 'name an internal header *_int.h')]),
    ('a stale graph in the README',
     {'README.md': '<!-- check_deps.py arrows -->\n```\napps -> server\n```\n'},
     [('README.md:1:', 'the module graph here is not the tree\'s')]),
    ('a README without the graph', {'README.md': '# x\n'},
     [('README.md:1:', 'no <!-- check_deps.py arrows --> line')]),
]


def run(files):
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, 'w') as fh:
                fh.write(text)
        p = subprocess.run([sys.executable, CHECKER, root], capture_output=True, text=True)
        return p.returncode, p.stdout


def violations(out):
    """The violation lines of the checker's output."""
    lines = out.split('\n')
    for i, line in enumerate(lines):
        if line.endswith('violation(s):'):
            return [l.strip() for l in lines[i + 1:] if l.strip()]
    return []


def main():
    failed = 0
    readme = '<!-- check_deps.py arrows -->\n```\n' + ARROWS + '\n```\n'
    rc, out = run({**CLEAN, 'README.md': readme})
    if rc != 0 or 'no violation' not in out:
        print('FAIL clean tree: rc %d\n%s' % (rc, out))
        failed += 1
    for name, extra, expected in CASES:
        # no README (its check is skipped) unless the case brings one: an
        # edge a case adds would make the clean README's graph stale
        rc, out = run({**CLEAN, **extra})
        got = violations(out)
        missing = [e for e in expected
                   if not any(v.startswith(e[0]) and e[1] in v for v in got)]
        if rc != 1 or missing or len(got) != len(expected):
            print('FAIL %s: rc %d, missing %s, got %d violation(s)\n%s'
                  % (name, rc, missing, len(got), out))
            failed += 1
        else:
            print('ok   %s: %s' % (name, got[0]))
    print('%d of %d cases failed' % (failed, len(CASES) + 1))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
