#!/usr/bin/env python3
"""check_lessons.py — runs the shell sessions in lessons and answer keys, compares outputs.

A lesson cannot rot if what it tells students to type is run on every build. The format
(lessons/README.md explains it to authors):

  ```console                 a checked block; ```console nocheck``` is shown, never run
  $ COMMAND                  run with bash -c; its stdout and stderr, merged as on a
  expected output            terminal, must match the lines up to the next "$ "
  $ COMMAND &                a background job (%1, %2...): the lines after it are waited
  expected lines             for in its output (readiness: they may follow other lines)
  $ kill [-INT] %N           signal a job, then wait for it to exit; the lines after it are
  $ wait [%N]                what the job printed since it was last checked (before the
                             signal, the job gets up to 3 s to print all but the last)
  ```

A block whose opening line says ```console given=WORD``` depends on something only the
kernel decides (a TIME_WAIT entry, say): its first step whose command starts with WORD
states that condition. If that step's output differs, the rest of the block is reported
as not checked, with the reason, instead of failing; every other step still must match.

A step whose command starts with "ss " reads kernel state that changes on the kernel's own
time (a FIN's ACK may be delayed 40 ms, a timer fires): it is run again, every 50 ms for up
to 3 s, until its output matches; only then does it fail.

Matching: a line that is only "..." matches any number of lines; "..." inside a line
matches any text. Runs of blanks compare equal, trailing blanks and strace-like timings
(" <0.25s>") are ignored. The
ports 8000-8009 and 9000-9009 are replaced, block by block, with free ports picked below
the kernel's ephemeral range (see free_port), so the README shows what a student types and
the check does not collide with the tests running beside it.

A block whose opening line says ```console netns``` creates network namespaces (lesson
14): it runs only where that is allowed (root, or CAP_NET_ADMIN and CAP_SYS_ADMIN) and is
reported "not checked" with the reason elsewhere. The namespace names sc-server,
sc-client and sc-router are made unique for each run of the checker (sc-server-PID), and every namespace
of the run is deleted after each README, whatever happened in it.

Each block runs in a fresh temporary directory with the build directories first on PATH,
stdin from /dev/null, every process in its own session; at the end of a block every job
still running gets SIGTERM, then SIGKILL. Only loopback addresses appear in the lessons.
Standard library only.
"""

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

PORT_RE = re.compile(r"(?<![\d.])(800\d|900\d)(?!\d)")
NETNS_RE = re.compile(r"\bsc-(server|client|router)\b(?!-)")  # lesson 14's namespaces
NETNS_SUFFIX = f"-{os.getpid()}"
TIMING_RE = re.compile(r" <\d+\.\d+s>")
JOB_RE = re.compile(r"^(kill(?: -(?:INT|TERM|HUP|KILL))?|wait)(?: %(\d+))?$")

COMMAND_TIMEOUT = 20.0  # seconds any one command may run
BUILTIN_WAIT = 10.0  # seconds to wait for a job's lines, or for it to exit
PRINT_GRACE = 3.0  # seconds a job gets to print its expected lines before `kill`
SETTLE = 3.0  # seconds an `ss` step may take to see the state the lesson shows
SETTLE_COMMANDS = ("ss ",)
SHOW = False  # --show: print what every command printed (for lesson authors)


# ---------------------------------------------------------------------------------------
# Parsing: a README becomes blocks of (command, expected lines).


class Step:
    def __init__(self, line_no, command):
        self.line_no = line_no
        self.command = command
        self.expected = []


class Block:
    def __init__(self, path, line_no, checked, given=None, netns=False):
        self.path = path
        self.line_no = line_no
        self.checked = checked
        self.given = given  # the first word of the step that states the block's condition
        self.netns = netns  # it creates network namespaces
        self.steps = []

    def is_given(self, step):
        return self.given is not None and step.command.split()[:1] == [self.given]


def parse(path, text):
    blocks, block = [], None
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if block is None:
            if stripped.startswith("```console"):
                words = stripped[3:].split()
                given = [w.split("=", 1)[1] for w in words[1:] if w.startswith("given=")]
                block = Block(path, no, "nocheck" not in words[1:], (given or [None])[0],
                              "netns" in words[1:])
            continue
        if stripped.startswith("```"):
            blocks.append(block)
            block = None
        elif line.startswith("$ "):
            block.steps.append(Step(no, line[2:].strip()))
        elif block.steps:
            block.steps[-1].expected.append(line)
        elif stripped and block.checked:  # a nocheck block may show anything
            raise ValueError(f"{path}:{no}: output before any '$ ' command")
    if block is not None:
        raise ValueError(f"{path}:{block.line_no}: console block never closed")
    return blocks


# ---------------------------------------------------------------------------------------
# Matching: expected lines with "..." wildcards against what a command printed.


def normalise(line):
    # Runs of blanks count as one: a table's columns shift when a port has five digits.
    return re.sub(r"[ \t]+", " ", TIMING_RE.sub("", line)).rstrip()


def line_regex(pattern):
    parts = [re.escape(p) for p in normalise(pattern).split("...")]
    return re.compile("^" + ".*".join(parts) + "$")


def match(expected, actual, prefix=False):
    """True if the actual lines match the expected pattern. With prefix, the pattern
    need only match the beginning of the output (used while waiting for a job)."""
    exp = [normalise(line) for line in expected]
    while exp and exp[-1] == "":
        exp.pop()
    act = [normalise(line) for line in actual]
    while act and act[-1] == "":
        act.pop()
    if prefix:  # the lines may come after others, and more may follow
        exp = ["..."] + exp + ["..."]
    regexes = [None if e == "..." else line_regex(e) for e in exp]

    memo = {}

    def go(i, j):
        key = (i, j)
        if key not in memo:
            if i == len(regexes):
                memo[key] = j == len(act)
            elif regexes[i] is None:
                memo[key] = go(i + 1, j) or (j < len(act) and go(i, j + 1))
            else:
                memo[key] = j < len(act) and bool(regexes[i].match(act[j])) and go(i + 1, j + 1)
        return memo[key]

    return go(0, 0)


# ---------------------------------------------------------------------------------------
# Running: foreground commands and background jobs.


class Job:
    """A background command whose merged output is collected by a reader thread."""

    def __init__(self, command, cwd, env):
        self.command = command
        self.proc = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.lines = []
        self.seen = 0  # lines already matched by earlier steps
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def new_lines(self):
        with self.lock:
            return self.lines[self.seen:]

    def signal(self, sig):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)  # the session we started for this job
            except ProcessLookupError:
                pass

    def finish(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        self.reader.join(timeout=timeout)
        return True

    def stop(self):
        self.signal(signal.SIGTERM)
        if not self.finish(3.0):
            self.signal(signal.SIGKILL)
            self.finish(3.0)


def free_port():
    """A port free on loopback for TCP and UDP, picked below the kernel's ephemeral range
    (ip_local_port_range): the ports bind(0) and connect() give the tests running beside
    this one come from that range, so none of them can take it before our program binds
    it (a port bind(0) just returned can be handed out again at once)."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    for _ in range(200):
        port = random.randint(max(1024, low - 12000), low - 1)
        if _port_is_free(port):
            return port
    with socket.socket() as s:  # nothing free down there: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def port_map_for(block):
    text = "\n".join(s.command + "\n" + "\n".join(s.expected) for s in block.steps)
    ports = {}
    for p in sorted(set(PORT_RE.findall(text))):
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[p] = str(port)
    return ports


def substitute(text, ports):
    text = NETNS_RE.sub(lambda m: m.group(0) + NETNS_SUFFIX, text)
    return PORT_RE.sub(lambda m: ports.get(m.group(1), m.group(1)), text)


# ---------------------------------------------------------------------------------------
# Network namespaces (lesson 14): only where they may be created, always removed.


def ip_netns(*args):
    return subprocess.run(["ip", "netns", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT)


def why_no_netns():
    """None if this process may do what lesson 14 does (a namespace, a veth pair in it,
    nftables there), else the reason it may not."""
    probe = "sc-probe" + NETNS_SUFFIX
    try:
        made = ip_netns("add", probe)
    except OSError as e:
        return f"ip (iproute2) cannot run: {e.strerror}"
    if made.returncode != 0:
        return (f"creating a network namespace needs root or CAP_NET_ADMIN and "
                f"CAP_SYS_ADMIN: {made.stderr.strip()}")
    try:
        for what, command in (("a veth pair", ["ip", "link", "add", "sc0", "type", "veth",
                                               "peer", "name", "sc1"]),
                              ("nftables", ["nft", "list", "tables"])):
            try:
                done = ip_netns("exec", probe, *command)
            except OSError as e:
                return f"{what}: {e.strerror}"
            if done.returncode != 0:
                return f"{what} is not available here: {done.stderr.strip()}"
        return None
    finally:
        ip_netns("delete", probe)


def remove_namespaces():
    """Deletes this run's namespaces, and those left by runs that died (their PID is gone)."""
    try:
        listed = ip_netns("list").stdout.split()
    except OSError:
        return
    for name in listed:
        found = re.fullmatch(r"sc-[a-z]+-(\d+)", name)
        if found and (name.endswith(NETNS_SUFFIX) or not os.path.exists(f"/proc/{found[1]}")):
            ip_netns("delete", name)


class Failure(Exception):
    pass


class NotGiven(Exception):
    """The block's stated condition did not hold on this machine: the rest is unchecked."""


def report(step, what, expected, actual):
    lines = [f"{what}", f"  $ {step.command}", "  expected:"]
    lines += [f"    | {line}" for line in expected] or ["    (nothing)"]
    lines.append("  got:")
    lines += [f"    | {line}" for line in actual] or ["    (nothing)"]
    return "\n".join(lines)


def show(command, lines):
    if SHOW:
        print("\n".join([f"$ {command}"] + lines))


def run_foreground(step, command, expected, cwd, env):
    settles = command.startswith(SETTLE_COMMANDS)
    deadline = time.monotonic() + SETTLE
    while True:
        out = run_once(step, command, expected, cwd, env)
        if match(expected, out):
            return
        if not settles or time.monotonic() > deadline:
            raise Failure(report(step, "output differs", expected, out))
        time.sleep(0.05)  # the kernel's state, polled with a deadline


def run_once(step, command, expected, cwd, env):
    try:
        proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT,
                              start_new_session=True)
        out = proc.stdout.decode("utf-8", "replace").splitlines()
        show(command, out)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace").splitlines()
        raise Failure(report(step, f"timed out after {COMMAND_TIMEOUT:g} s", expected, out))
    return out


def wait_for_lines(step, job, expected):
    deadline = time.monotonic() + BUILTIN_WAIT
    while True:
        lines = job.new_lines()
        if match(expected, lines, prefix=True):
            with job.lock:
                job.seen = len(job.lines)
            return
        if job.proc.poll() is not None and not job.reader.is_alive():
            raise Failure(report(step, f"job exited ({job.proc.returncode}) first",
                                 expected, lines))
        if time.monotonic() > deadline:
            raise Failure(report(step, "job never printed", expected, lines))
        time.sleep(0.02)  # polling the job's output, with a deadline


def run_job_control(step, words, expected, jobs):
    action, number = words.group(1), words.group(2)
    index = int(number) - 1 if number else len(jobs) - 1
    if not 0 <= index < len(jobs):
        raise Failure(f"{step.command}: no such job")
    job = jobs[index]
    if action.startswith("kill"):
        # What the README says the job printed must not be cut short by the signal: give
        # it a moment to arrive (all but the last line, which is often what the signal
        # itself makes the job print: "server stopped...", a summary).
        deadline = time.monotonic() + PRINT_GRACE
        while not match(expected[:-1], job.new_lines(), prefix=True):
            if time.monotonic() > deadline or job.proc.poll() is not None:
                break
            time.sleep(0.02)  # polling the job's output, with a deadline
        name = action.split("-")[1] if "-" in action else "TERM"
        job.signal(getattr(signal, "SIG" + name))
    if not job.finish(BUILTIN_WAIT):
        raise Failure(report(step, "job did not exit", expected, job.new_lines()))
    lines = job.new_lines()
    job.seen = len(job.lines)
    show(step.command, lines)
    if not match(expected, lines):
        raise Failure(report(step, "job output differs", expected, lines))


def run_block(block, env):
    ports = port_map_for(block)
    # $LESSON: the README's folder, for the helper scripts a lesson keeps next to it.
    env = dict(env, LESSON=os.path.dirname(os.path.abspath(block.path)))
    jobs = []
    cwd = tempfile.mkdtemp(prefix="lesson-")
    try:
        for step in block.steps:
            command = substitute(step.command, ports)
            expected = [substitute(line, ports) for line in step.expected]
            control = JOB_RE.match(command)
            try:
                if control:
                    run_job_control(step, control, expected, jobs)
                elif command.endswith("&"):
                    jobs.append(Job(command[:-1].strip(), cwd, env))
                    wait_for_lines(step, jobs[-1], expected)
                else:
                    run_foreground(step, command, expected, cwd, env)
            except Failure as e:
                if block.is_given(step):
                    raise NotGiven(f"{block.path}:{step.line_no}: not checked, the condition "
                                   f"did not hold here: {e}") from None
                if not SHOW:  # an author looking at the output wants every step
                    raise Failure(f"{block.path}:{step.line_no}: {e}") from None
                print(f"FAIL {block.path}:{step.line_no}: {e}")
    finally:
        for job in jobs:
            job.stop()
        shutil.rmtree(cwd, ignore_errors=True)


def run_blocks(blocks, env, netns_refused, failures, skipped, ran):
    for block in blocks:
        if not block.checked:
            skipped += 1
            continue
        if block.netns and netns_refused:
            print(f"SKIP {block.path}:{block.line_no}: not checked: {netns_refused}",
                  file=sys.stderr)
            skipped += 1
            continue
        ran += 1
        try:
            run_block(block, env)
        except NotGiven as e:
            print("SKIP " + str(e), file=sys.stderr)
            ran, skipped = ran - 1, skipped + 1
        except Failure as e:
            failures.append(str(e))
    return skipped, ran


def check_files(paths, bin_dirs):
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.abspath(d) for d in bin_dirs] + [env.get("PATH", "")])
    env.update({"NO_COLOR": "1", "LC_ALL": "C.UTF-8", "COLUMNS": "100"})
    # $SEED: the tutorial's own Python programs, which lessons run to show their defects.
    env["SEED"] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e",
                               "seed")
    failures, ran, skipped = [], 0, 0
    netns_refused = None
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                blocks = parse(path, f.read())
        except (OSError, ValueError) as e:
            failures.append(str(e))
            continue
        uses_netns = any(b.netns and b.checked for b in blocks)
        if uses_netns:
            netns_refused = why_no_netns()
        try:
            skipped, ran = run_blocks(blocks, env, netns_refused, failures, skipped, ran)
        finally:
            if uses_netns and not netns_refused:
                remove_namespaces()  # after each README, even one that failed half-way
    for failure in failures:
        print("FAIL " + failure, file=sys.stderr)
    print(f"{ran} block(s) run, {skipped} not checked, {len(failures)} failed")
    if ran == 0 and not skipped:
        print("no console blocks found", file=sys.stderr)
        return 1
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------
# Coverage: every call of the tutorial's table is taught somewhere.

CALLS = ["bind", "listen", "accept", "connect", "connect_ex", "recv", "send", "sendall",
         "recvfrom", "sendto", "close", "getpeername", "getsockname", "setsockopt",
         "getsockopt", "settimeout", "gettimeout", "fileno", "setblocking", "makefile"]


def check_coverage(lessons_dir):
    """Each call must be made by a lesson program (.call( ) and named in a README."""
    programs, readmes = "", ""
    for root, _, files in os.walk(lessons_dir):
        for name in files:
            with open(os.path.join(root, name), encoding="utf-8") as f:
                if name.endswith(".cpp"):
                    programs += f.read()
                elif name.startswith("README") and root != lessons_dir:
                    readmes += f.read()
    missing = []
    for call in CALLS:
        in_code = re.search(r"\." + call + r"\(", programs)
        in_text = re.search(r"\b" + call + r"\b", readmes)
        if not (in_code and in_text):
            missing.append(f"{call} ({'' if in_code else 'no program'}"
                           f"{'' if in_text or in_code else ', '}"
                           f"{'' if in_text else 'no README'})")
    if missing:
        print("not taught: " + "; ".join(missing), file=sys.stderr)
        return 1
    print(f"all {len(CALLS)} calls of the tutorial's table are taught")
    return 0


# ---------------------------------------------------------------------------------------
# The checker's own tests.


class SelfTest(unittest.TestCase):
    def test_exact_and_wildcards(self):
        self.assertTrue(match(["a", "b"], ["a", "b"]))
        self.assertFalse(match(["a"], ["a", "b"]))
        self.assertTrue(match(["a", "..."], ["a", "b", "c"]))
        self.assertTrue(match(["...", "c"], ["a", "b", "c"]))
        self.assertTrue(match(["a", "...", "c"], ["a", "c"]))
        self.assertTrue(match(["from 127.0.0.1:..."], ["from 127.0.0.1:51234"]))
        self.assertFalse(match(["from 127.0.0.1:..."], ["from ::1:5"]))

    def test_timings_and_trailing_blanks_ignored(self):
        self.assertTrue(match(["recv(4, 1024) = 6"], ["recv(4, 1024) = 6 <2.31s>  "]))
        self.assertTrue(match(["x", ""], ["x"]))
        self.assertTrue(match(["8000/tcp open  1 ms"], ["18000/tcp open 1 ms"]) is False)
        self.assertTrue(match(["a  b"], ["a b"]))

    def test_prefix(self):
        self.assertTrue(match(["listening"], ["listening", "more"], prefix=True))
        self.assertFalse(match(["listening"], [], prefix=True))
        self.assertTrue(match(["listening"], ["socket()", "listening"], prefix=True))

    def test_parse(self):
        text = "x\n```console\n$ echo a &\na\n$ kill %1\n```\n```console nocheck\n$ z\n```\n"
        blocks = parse("t", text)
        self.assertEqual(len(blocks), 2)
        self.assertEqual(blocks[0].steps[0].command, "echo a &")
        self.assertEqual(blocks[0].steps[0].expected, ["a"])
        self.assertFalse(blocks[1].checked)

    def test_a_given_that_does_not_hold_skips_the_rest(self):
        env = dict(os.environ)
        text = "```console given=test\n$ test -e /\n$ echo one\none\n```\n"
        run_block(parse("t", text)[0], env)
        unmet = "```console given=test\n$ test -e /nonexistent; echo $?\n0\n$ echo x\ny\n```\n"
        with self.assertRaises(NotGiven):
            run_block(parse("t", unmet)[0], env)
        wrong = "```console given=test\n$ echo one\ntwo\n```\n"
        with self.assertRaises(Failure):  # only the given step may be unmet
            run_block(parse("t", wrong)[0], env)

    def test_ports_are_substituted_consistently(self):
        block = Block("t", 1, True)
        block.steps.append(Step(1, "serve --port 8000"))
        block.steps[0].expected = ["on 127.0.0.1:8000", "18000 stays"]
        ports = port_map_for(block)
        self.assertEqual(list(ports), ["8000"])
        self.assertEqual(substitute("a:8000 18000 80000 port 8000.", ports),
                         f"a:{ports['8000']} 18000 80000 port {ports['8000']}.")

    def test_namespace_names_are_unique_to_the_run(self):
        self.assertEqual(substitute("ip netns add sc-server; ip -n sc-client x", {}),
                         f"ip netns add sc-server{NETNS_SUFFIX}; ip -n sc-client{NETNS_SUFFIX} x")
        self.assertEqual(substitute("ip netns add sc-router", {}),
                         f"ip netns add sc-router{NETNS_SUFFIX}")
        self.assertTrue(parse("t", "```console netns\n$ true\n```\n")[0].netns)
        self.assertFalse(parse("t", "```console\n$ true\n```\n")[0].netns)

    def test_an_ss_step_is_polled_until_the_state_shows(self):
        # A stand-in `ss` whose state appears only at its third call.
        bin_dir = tempfile.mkdtemp(prefix="fake-ss-")
        self.addCleanup(shutil.rmtree, bin_dir)
        with open(os.path.join(bin_dir, "ss"), "w") as f:
            f.write("#!/bin/sh\necho x >> calls\n"
                    "[ $(wc -l < calls) -ge 3 ] && echo FIN-WAIT-2\nexit 0\n")
        os.chmod(os.path.join(bin_dir, "ss"), 0o755)
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"])
        run_block(parse("t", "```console\n$ ss -t\nFIN-WAIT-2\n```\n")[0], env)
        with self.assertRaises(Failure):  # other commands are run once
            run_block(parse("t", "```console\n$ sh -c 'ss -t'\nFIN-WAIT-2\n```\n")[0],
                      env)

    def test_a_block_runs_jobs_and_checks_output(self):
        env = dict(os.environ)
        text = ("```console\n$ echo ready; read -t 5 x < /dev/zero; echo bye &\nready\n"
                "$ printf 'one\\ntwo\\n'\none\n...\n$ kill %1\n```\n")
        run_block(parse("t", text)[0], env)
        bad = "```console\n$ echo one\ntwo\n```\n"
        with self.assertRaises(Failure):
            run_block(parse("t", bad)[0], env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", help="README files to check")
    parser.add_argument("--bin-dir", action="append", default=[],
                        help="directory put first on PATH (sockchat, the lesson programs)")
    parser.add_argument("--coverage", metavar="LESSONS_DIR",
                        help="check that every socket call is taught, then exit")
    parser.add_argument("--selftest", action="store_true", help="test the checker itself")
    parser.add_argument("--show", action="store_true",
                        help="print what each command printed (to write a lesson)")
    args = parser.parse_args()
    global SHOW
    SHOW = args.show
    if args.selftest:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(SelfTest)
        return 0 if unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful() else 1
    if args.coverage:
        return check_coverage(args.coverage)
    if not args.files:
        parser.error("no README given")
    return check_files(args.files, args.bin_dir)


if __name__ == "__main__":
    sys.exit(main())
