#!/usr/bin/env python3
"""grade.py — grades a student's chat session from sockchat's JSON Lines (lesson 12).

The assignment: start a group chat server on loopback, join it, pick a nickname, say at
least two things (one of them in Chinese), use /me once, and leave cleanly. The server's
`--json` log records every event, so the grader reads facts, never screen text:

    sockchat --json serve-group --port 8000 > session.jsonl
    python3 grade.py session.jsonl

Each check prints PASS or FAIL with the reason; the exit status is 0 only if all pass.
Standard library only. Read the events' fields in docs/cli.md (JSON Lines).
"""
import json
import sys


def load(path):
    events = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    sys.exit(f"{path}:{number}: not JSON: {line.strip()[:60]}")
    return events


def of(events, kind):
    return [e for e in events if e.get("event") == kind]


def checks(events):
    """(description, passed, detail) for each rule of the assignment."""
    listening = of(events, "listening")
    host = listening[0].get("host", "") if listening else ""
    yield ("the server listens on loopback", host in ("127.0.0.1", "::1"),
           f"host {host or '(none)'}")
    nicks = {e["new_name"]: e["name"] for e in of(events, "nick")}
    yield "a nickname was chosen", bool(nicks), ", ".join(nicks) or "still guest"
    said = [e for e in of(events, "message") if e.get("name") in nicks and not e.get("action")]
    yield "at least two messages", len(said) >= 2, f"{len(said)} message(s)"
    chinese = [e for e in said if any("\u4e00" <= c <= "\u9fff" for c in e.get("text", ""))]
    yield "one message in Chinese", bool(chinese), chinese[0]["text"] if chinese else "none"
    actions = [e for e in of(events, "message") if e.get("action")]
    yield "/me was used", bool(actions), actions[0]["text"] if actions else "none"
    left = [e for e in of(events, "left") if e.get("name") in nicks]
    clean = bool(left) and all(e.get("reason") in ("closed", "quit") for e in left)
    yield "left cleanly", clean, ", ".join(e.get("reason", "?") for e in left) or "never left"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: grade.py SESSION.jsonl")
    results = list(checks(load(sys.argv[1])))
    for description, passed, detail in results:
        print(f"{'PASS' if passed else 'FAIL'}  {description} ({detail})")
    score = sum(passed for _, passed, _ in results)
    print(f"score: {score}/{len(results)}")
    return 0 if score == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
