"""Helpers for bulk.sh (standard library only).

  bulk_util.py wait-listen PORT       until something listens on PORT (never connects:
                                      nc -l serves only its first connection)
  bulk_util.py wait-line FILE REGEX   until FILE has a line matching REGEX; prints group 1
  bulk_util.py cpu-per-gib BYTES F..  CPU seconds per GiB from /usr/bin/time's "%U %S" files
  bulk_util.py report RESULTS         medians, ratios and the goals, from
                                      "tool GiB/s [cpu-s/GiB]" lines
Every wait polls its condition under a 10 s deadline.
"""
import re
import statistics
import sys
import time

DEADLINE = 10.0


def listening(port):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                    return True
    return False


def poll(condition, what):
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        result = condition()
        if result:
            return result
        time.sleep(0.005)
    sys.exit("bulk_util: timed out waiting for %s" % what)


def wait_line(path, pattern):
    def found():
        with open(path, errors="replace") as f:
            m = re.search(pattern, f.read())
        return m and m.group(1)
    print(poll(found, "%r in %s" % (pattern, path)))


def cpu_per_gib(size, paths):
    total = 0.0
    for path in paths:
        try:
            with open(path) as f:
                user, system = f.read().split()[-2:]
        except (OSError, ValueError):
            print("-")  # no /usr/bin/time here
            return
        total += float(user) + float(system)
    print("%.3f" % (total / (int(size) / 2**30)))


def report(path):
    runs, cpu = {}, {}
    with open(path) as f:
        for line in f:
            tool, value, cpu_s = (line.split() + ["-"])[:3]
            runs.setdefault(tool, []).append(float(value))
            if cpu_s != "-":
                cpu.setdefault(tool, []).append(float(cpu_s))
    median = {tool: statistics.median(values) for tool, values in runs.items()}
    print()
    print("| tool | median GiB/s | min | max | vs nc | vs iperf3 | CPU s/GiB (both ends) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for tool, values in runs.items():
        print("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %s |"
              % (tool, median[tool], min(values), max(values), median[tool] / median["nc"],
                 median[tool] / median["iperf3"],
                 "%.2f" % statistics.median(cpu[tool]) if tool in cpu else "-"))
    print()
    sc = median["sockchat"]
    print("goal: sockchat >= nc             %.2f x  %s"
          % (sc / median["nc"], "met" if sc >= median["nc"] else "NOT met"))
    print("goal: sockchat >= 0.8 x iperf3   %.2f x  %s"
          % (sc / median["iperf3"], "met" if sc >= 0.8 * median["iperf3"] else "NOT met"))
    if "iperf3_file" in median:
        print("      (vs iperf3 -F, which reads the same file: %.2f x)" % (sc / median["iperf3_file"]))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "wait-listen":
        poll(lambda: listening(int(args[0])), "a listener on port %s" % args[0])
    elif command == "wait-line":
        wait_line(args[0], args[1])
    elif command == "cpu-per-gib":
        cpu_per_gib(args[0], args[1:])
    elif command == "report":
        report(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
