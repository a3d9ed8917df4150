"""Cost of one regex matcher test (``Matcher.matches``), for A/B comparisons of the regex engine.

    .venv/bin/python deploy/matcher_cost.py [ROUNDS]

Per typical matcher: ``repeat`` tests the same label value again and again (as a storm does: severities, services
and jobs repeat), ``distinct`` a new value each time (nothing remembered). Best of 5 runs, CPU time of this
process. Run it from two checkouts (``PYTHONPATH=<checkout>``) and compare.
"""
import sys
import time

from rules.matchers import parse_matcher

CASES = [('severity=~"critical|page"', "warning"), ('instance=~"web-\\\\d+:9100"', "web-1234:9100"),
         ('service=~".*db.*"', "prod-db-primary-01"), ('alertname!~"Watchdog|InfoInhibitor"', "HighErrorRate")]


def best_ns(matcher, values, rounds):
    best = float("inf")
    for _ in range(5):
        labels = [{matcher.name: v} for v in values]
        start = time.process_time()
        for _ in range(rounds // len(values)):
            for one in labels:
                matcher.matches(one)
        best = min(best, (time.process_time() - start) / (rounds // len(values) * len(values)))
    return best * 1e9


def main(rounds):
    for text, value in CASES:
        matcher = parse_matcher(text)
        repeat = best_ns(matcher, [value], rounds)
        distinct = best_ns(matcher, [f"{value}-{i}" for i in range(rounds)], rounds)
        print(f"{text:40} repeat {repeat:6.0f} ns   distinct {distinct:6.0f} ns")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
