#!/usr/bin/env python3
"""man_check.py PROGRAM MANPAGE: the man page names every flag and every
environment variable that `PROGRAM --help` prints, and no flag that --help
does not know, so the two cannot drift apart. A flag is a `--word` or a
`-x` short option in the help text; an environment variable is a name in
square brackets ("[CHANNELS_PORT]"). Python 3 standard library only."""
import re
import subprocess
import sys

LONG = re.compile(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)")
SHORT = re.compile(r"(?<![\w-])-([a-zA-Z])(?=[,\s])")
ENV = re.compile(r"\[([A-Z][A-Z0-9]*_[A-Z0-9_]+)\]")


def roff_text(src):
    """The man page as plain words: no font escapes, "\\-" as "-"."""
    lines = [l for l in src.splitlines() if not l.startswith('.\\"')]
    text = "\n".join(lines)
    text = re.sub(r"\\f(\[[A-Z]*\]|[A-Z])", "", text)
    text = text.replace("\\-", "-").replace("\\e", "\\").replace("\\(aq", "'")
    text = re.sub(r"^\.[A-Z]+ ?", "", text, flags=re.M)
    return text


def words(text):
    return (set(LONG.findall(text)), set(SHORT.findall(text)), set(ENV.findall(text)))


def main():
    prog, page = sys.argv[1], sys.argv[2]
    helped = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=30)
    help_text = helped.stdout + helped.stderr
    if helped.returncode != 0 or "--help" not in help_text:
        print(f"{prog} --help exited {helped.returncode}:\n{help_text}")
        return 1
    man = roff_text(open(page, encoding="utf-8").read())
    h_long, h_short, h_env = words(help_text)
    m_long, m_short, _ = words(man)
    m_env = set(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", man))
    problems = []
    problems += [f"--{f}: in --help, not in the man page" for f in sorted(h_long - m_long)]
    problems += [f"-{f}: in --help, not in the man page" for f in sorted(h_short - m_short)]
    problems += [f"{e}: in --help, not in the man page" for e in sorted(h_env - m_env)]
    problems += [f"--{f}: in the man page, not in --help" for f in sorted(m_long - h_long)]
    for p in problems:
        print(f"{page}: {p}")
    if not problems:
        print(f"{page}: {len(h_long)} long flags, {len(h_short)} short flags, "
              f"{len(h_env)} environment variables, all documented")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
