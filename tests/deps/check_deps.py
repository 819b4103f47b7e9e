#!/usr/bin/env python3
"""check_deps.py - the module graph of channels-c, drawn and checked.

Every .c and .h file of the tree belongs to one module, by folder (MODULES
below). Every `#include "..."` is resolved the way the compiler does with
this project's flat include paths (the includer's folder first, then the one
header of that name in the tree) and becomes an edge between two modules.
The edges must follow the order of docs/ARCHITECTURE.md:

    apps -> server -> consumers -> channels -> util        (the framework)
    routing, text, http, template, wsframe                 (leaf libraries)

  - each folder apps/<name>/ is an app: a module of its own whose public
    header is <name>.h, found without a MODULES row; it sits between apps
    (the list, which uses the apps) and server: an app uses the framework
    below apps and the leaf libraries, never another app, and nothing of
    the framework uses an app (the framework knows no app);
  - a framework module uses only modules below it (any distance), and the
    leaf libraries (util uses none);
  - a leaf library uses only util and text (and system headers); text,
    the leaf library of small text jobs, uses only util;
  - client code (tools/*, tests/, fuzz/, bench/, examples/) may use any
    module; nothing in the framework or a leaf library uses client code;
  - a module is used through its one public header: its other headers are
    internal, included only by its own files, by its unit tests
    (tests/unit/<module>/) and by its fuzz target (fuzz/fuzz_<module>.c, or
    fuzz/fuzz_<name>.c for the module holding <name>.c);
  - in the framework and the leaf libraries, every header but the public one
    is named *_int.h;
  - <libwebsockets.h> is included in server/ only: lws is an adapter at the
    edge, and no leaf library (nor util below them) links it;
  - project headers are included with "", never <>; a header name is unique
    in the tree (the include paths are flat).

The graph shown in README.md and docs/ARCHITECTURE.md (after the line
`<!-- check_deps.py arrows -->`) must be the one printed here.

Prints the modules, the graph (one line per edge: include lines, files; then
one line per module with what it uses) and every violation as
path:line: message; exits 1 when there is one, 0 when
there is none, 2 on a usage error. Python 3 standard library only.

    tests/deps/check_deps.py [SOURCE_ROOT]      (meson test --suite deps)
"""

import os
import re
import sys
from collections import defaultdict

FRAMEWORK, APP, LEAF, CLIENT = 'framework', 'app', 'leaf library', 'client'

# (folder, module, kind, public header). Longest folder wins; a new folder
# of .c/.h files must be added here (the check fails until it is). util, the
# bottom of the graph, has two public headers: the log sink (log.h) and the
# one error vocabulary (error.h) every module returns codes from.
MODULES = [
    ('apps', 'apps', FRAMEWORK, 'apps.h'),
    ('server', 'server', FRAMEWORK, 'server.h'),
    ('consumers', 'consumers', FRAMEWORK, 'consumer.h'),
    ('channels', 'channels', FRAMEWORK, 'layer.h'),
    ('util', 'util', FRAMEWORK, ('log.h', 'error.h')),
    ('routing', 'routing', LEAF, 'routing.h'),
    ('lib/text', 'text', LEAF, 'text.h'),
    ('lib/http', 'http', LEAF, 'http.h'),
    ('lib/template', 'template', LEAF, 'template.h'),
    ('lib/wsframe', 'wsframe', LEAF, 'wsframe.h'),
    ('lib/text', 'text', LEAF, 'text.h'),
    ('tools/client', 'client', CLIENT, 'client.h'),
    ('tools/cli', 'cli', CLIENT, 'cli.h'),
    ('tools/benchmark', 'benchmark', CLIENT, 'bench.h'),
    ('tests', 'tests', CLIENT, None),
    ('fuzz', 'fuzz', CLIENT, None),
    ('bench', 'bench', CLIENT, None),
    ('examples', 'examples', CLIENT, None),
]

# The framework's order, top first: a module may use those after it.
FRAMEWORK_ORDER = ['apps', 'server', 'consumers', 'channels', 'util']

# What a leaf library may use: util, and text (lib/text: buffer, escaping,
# UTF-8, percent-decoding), itself a leaf library that uses util at most.
LEAF_BASE = ('util', 'text')

# The one module allowed to include libwebsockets.
LWS_MODULES = {'server'}

# Documents that show the graph: the fenced block after DOC_MARKER must be
# the "arrows" this prints, so they stay true.
DOCS = ['README.md', 'docs/ARCHITECTURE.md']
DOC_MARKER = '<!-- check_deps.py arrows -->'

SKIP_DIRS = {'.git', 'node_modules', 'subprojects', '__pycache__'}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def is_build_dir(path):
    return (os.path.isdir(os.path.join(path, 'meson-private'))
            or os.path.isfile(os.path.join(path, 'build.ninja')))


def source_files(root):
    """Every .c/.h file under root, as '/'-separated relative paths."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not d.startswith('.')
                             and not is_build_dir(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            if name.endswith(('.c', '.h')):
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                out.append(rel.replace(os.sep, '/'))
    return out


def add_app_modules(files):
    """A row per app folder apps/<name>/ (after the apps row), sorted."""
    names = sorted({f.split('/')[1] for f in files
                    if f.startswith('apps/') and f.count('/') >= 2})
    at = [row[1] for row in MODULES].index('apps') + 1
    taken = {row[1] for row in MODULES}
    rows = [('apps/' + n, n, APP, n + '.h') for n in names if n not in taken]
    MODULES[at:at] = rows
    return ['apps/%s/:1: an app may not be named like the module %s' % (n, n)
            for n in names if n in taken]


def module_of(path):
    """The MODULES row of a file, or None."""
    best = None
    for row in MODULES:
        folder = row[0]
        if path.startswith(folder + '/') and (best is None or len(folder) > len(best[0])):
            best = row
    return best


def may_see_internals(path, target, files_by_module):
    """True when `path` may include the internal headers of module `target`."""
    if path.startswith('tests/unit/' + target + '/'):
        return True
    m = re.fullmatch(r'fuzz/fuzz_([A-Za-z0-9_]+)\.c', path)
    if m:
        name = m.group(1)
        if name == target:
            return True
        return any(f.rsplit('/', 1)[-1] == name + '.c' for f in files_by_module[target])
    return False


def edge_problem(src, dst):
    """Why module src may not use module dst (None when it may)."""
    s_kind, d_kind = src[2], dst[2]
    s, d = src[1], dst[1]
    if s == d:
        return None
    if d_kind == CLIENT and dst[3] is None:
        return '%s has no public header: nothing outside it includes its files' % d
    if s_kind == CLIENT:
        return None
    if d_kind == CLIENT:
        return '%s (%s) may not use client code (%s)' % (s, s_kind, d)
    if d_kind == APP:
        if s == 'apps':
            return None
        if s_kind == APP:
            return 'app %s may not use another app (%s): what they share belongs below' % (s, d)
        return 'the framework knows no app: %s may not use app %s' % (s, d)
    if s_kind == APP:
        if d == 'apps':
            return 'back edge %s -> apps: an app is used by the list, never the reverse' % s
        return None
    if s_kind == LEAF:
        if d in LEAF_BASE and d != s:
            return None
        return 'leaf library %s may use only util and text, not %s' % (s, d)
    # s is a framework module
    if d_kind == LEAF:
        if s == 'util':
            return 'util is below the leaf libraries: it may not use %s' % d
        return None
    si, di = FRAMEWORK_ORDER.index(s), FRAMEWORK_ORDER.index(d)
    if di > si:
        return None
    return 'back edge %s -> %s: the order is %s' % (s, d, ' -> '.join(FRAMEWORK_ORDER))


def arrow_lines(edges, order):
    """The graph as one line per using module: 'apps -> server util'."""
    uses = defaultdict(list)
    for s, d in edges:
        uses[s].append(d)
    width = max(len(m) for m in order)
    return ['%-*s -> %s' % (width, s, ' '.join(sorted(uses[s], key=order.index)))
            for s in order if uses[s]]


def check_doc(root, doc, arrows):
    """The fenced block after DOC_MARKER in `doc` must be `arrows`."""
    path = os.path.join(root, doc)
    if not os.path.exists(path):
        return []
    with open(path, encoding='utf-8') as fh:
        lines = fh.read().split('\n')
    for i, line in enumerate(lines):
        if line.strip() == DOC_MARKER:
            start = i + 1
            if start < len(lines) and lines[start].startswith('```'):
                end = start + 1
                while end < len(lines) and not lines[end].startswith('```'):
                    end += 1
                if [l.rstrip() for l in lines[start + 1:end]] == arrows:
                    return []
            return ['%s:%d: the module graph here is not the tree\'s: replace the fenced '
                    'block after this line with the "arrows" printed above' % (doc, i + 1)]
    return ['%s:1: no %s line followed by the module graph' % (doc, DOC_MARKER)]


def publics(public):
    """The public header(s) of a MODULES row, as a tuple (empty for none)."""
    if public is None:
        return ()
    return public if isinstance(public, tuple) else (public,)


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ('-h', '--help')):
        print(__doc__)
        return 2
    root = os.path.abspath(argv[1] if len(argv) == 2 else
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
    files = source_files(root)
    if not files:
        print('check_deps: no .c/.h files under %s' % root)
        return 2

    problems = add_app_modules(files)
    owner = {}
    files_by_module = defaultdict(list)
    for f in files:
        row = module_of(f)
        if row is None:
            problems.append('%s:1: belongs to no module: add its folder to MODULES in '
                            'tests/deps/check_deps.py' % f)
            continue
        owner[f] = row
        files_by_module[row[1]].append(f)

    by_base = defaultdict(list)
    for f in files:
        if f.endswith('.h'):
            by_base[f.rsplit('/', 1)[-1]].append(f)
    for base, paths in sorted(by_base.items()):
        if len(paths) > 1:
            problems.append('%s:1: header name %s is not unique (%s)'
                            % (paths[1], base, ', '.join(paths)))

    # the modules' own shape: the public header exists, the others are *_int.h
    for folder, mod, kind, public in MODULES:
        if kind == CLIENT or not files_by_module[mod]:
            continue
        for pub in publics(public):
            if folder + '/' + pub not in files:
                problems.append('%s/%s:1: public header of %s missing' % (folder, pub, mod))
        for f in files_by_module[mod]:
            base = f.rsplit('/', 1)[-1]
            if f.endswith('.h') and base not in publics(public) and not base.endswith('_int.h'):
                problems.append('%s:1: %s has one public header (%s): name an internal '
                                'header *_int.h' % (f, mod, ', '.join(publics(public))))

    edges = defaultdict(lambda: [0, set()])
    for f in files:
        if f not in owner:
            continue
        src = owner[f]
        with open(os.path.join(root, f), encoding='utf-8', errors='replace') as fh:
            lines = fh.read().split('\n')
        for lineno, line in enumerate(lines, 1):
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            where = '%s:%d: ' % (f, lineno)
            delim, inc = m.group(1), m.group(2).strip()
            if delim == '<':
                if inc.startswith('libwebsockets') and src[1] not in LWS_MODULES:
                    problems.append(where + '<%s> in %s: libwebsockets stays inside %s'
                                    % (inc, src[1], ', '.join(sorted(LWS_MODULES))))
                if inc in by_base:
                    problems.append(where + 'project header <%s>: include it with ""' % inc)
                continue
            rel = os.path.normpath(os.path.join(os.path.dirname(f), inc)).replace(os.sep, '/')
            if rel in owner:
                target_file = rel
            else:
                cands = [p for p in by_base.get(inc.rsplit('/', 1)[-1], [])
                         if p == inc or p.endswith('/' + inc)]
                if not cands:
                    continue  # not ours: a system or package header ("llhttp.h")
                if len(cands) > 1:
                    problems.append(where + '"%s" is ambiguous (%s)' % (inc, ', '.join(cands)))
                    continue
                target_file = cands[0]
            if target_file not in owner:
                continue
            dst = owner[target_file]
            if dst[1] == src[1]:
                continue
            e = edges[(src[1], dst[1])]
            e[0] += 1
            e[1].add(f)
            why = edge_problem(src, dst)
            if why:
                problems.append(where + '"%s": %s' % (inc, why))
                continue
            base = target_file.rsplit('/', 1)[-1]
            if (base not in publics(dst[3])
                    and not may_see_internals(f, dst[1], files_by_module)):
                problems.append(where + '"%s" is internal to %s (its public header is %s; '
                                'internals are for %s/, tests/unit/%s/ and its fuzz target)'
                                % (inc, dst[1], ', '.join(publics(dst[3])), dst[0], dst[1]))

    order = [row[1] for row in MODULES]
    arrows = arrow_lines(edges, order)
    for doc in DOCS:
        problems.extend(check_doc(root, doc, arrows))

    print('modules (%d files):' % sum(len(v) for v in files_by_module.values()))
    for folder, mod, kind, public in MODULES:
        if files_by_module[mod]:
            print('  %-10s %-16s %-14s %3d files  %s'
                  % (mod, folder + '/', kind, len(files_by_module[mod]),
                     ', '.join(publics(public)) or '-'))
    print('edges (#include lines, files):')
    for (s, d), (n, fs) in sorted(edges.items(),
                                  key=lambda kv: (order.index(kv[0][0]), order.index(kv[0][1]))):
        print('  %-10s -> %-10s %3d  %3d' % (s, d, n, len(fs)))
    print('arrows (as in %s):' % ' and '.join(DOCS))
    for line in arrows:
        print('  ' + line)
    if problems:
        print('%d violation(s):' % len(problems))
        for p in problems:
            print('  ' + p)
        return 1
    print('no violation')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
