#!/usr/bin/env python3
"""check_reference.py — the man page and the bash completion list every real option.

Asks the built sockchat for each subcommand's --help, takes the long options it prints,
and checks that docs/sockchat.1 documents each one and docs/sockchat.bash-completion
offers it; then checks the man page renders without warnings (when groff is installed).
So a new option cannot ship undocumented. Standard library only.
Usage: check_reference.py SOCKCHAT DOCS_DIR
"""
import re
import shutil
import subprocess
import sys

SUBCOMMANDS = ["serve-1to1", "serve-group", "connect", "udp-send", "udp-recv", "probe"]


def options_of(sockchat, sub):
    out = subprocess.run([sockchat, sub, "--help"], capture_output=True, text=True,
                         timeout=10).stdout
    return sorted(set(re.findall(r"^\s+(?:-\w,)?(--[a-z][a-z0-9-]*)", out, re.M)) - {"--help"})


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    sockchat, docs = sys.argv[1], sys.argv[2]
    man = open(f"{docs}/sockchat.1", encoding="utf-8").read().replace("\\-", "-")
    completion = open(f"{docs}/sockchat.bash-completion", encoding="utf-8").read()
    missing = []
    for sub in SUBCOMMANDS:
        if f".SS {sub}\n" not in man:
            missing.append(f"man page: no section for {sub}")
        for option in options_of(sockchat, sub):
            if not re.search(re.escape(option) + r"(?![a-z-])", man):
                missing.append(f"man page: {sub} {option}")
            if not re.search(re.escape(option) + r"(?![a-z-])", completion):
                missing.append(f"completion: {sub} {option}")
    if shutil.which("groff"):
        warnings = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", f"{docs}/sockchat.1"],
                                  capture_output=True, text=True, timeout=20).stderr.strip()
        if warnings:
            missing.append("man page does not render cleanly: " + warnings.splitlines()[0])
    for m in missing:
        print("MISSING " + m, file=sys.stderr)
    print(f"{len(SUBCOMMANDS)} subcommands checked, {len(missing)} problem(s)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
