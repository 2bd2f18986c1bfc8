#!/usr/bin/env python3
"""Runs the OASIS stix2-validator (which checks patterns with stix2-patterns) over the
files named on the command line and prints one line per file: `<file>\tvalid` or
`<file>\tinvalid\t<first error>`; with `--patterns FILE`, runs stix2-patterns over each
line of FILE and prints `valid` or `invalid` per line, in order. ledger/tests/stix_corpus.rs compares this with dyad's
verdicts. Exits 2 if stix2validator cannot be imported."""

import sys

try:
    from stix2validator import ValidationOptions, validate_file
except ImportError as e:
    print(f"stix2validator is not installed: {e}", file=sys.stderr)
    sys.exit(2)


def patterns(path):
    from stix2patterns.validator import run_validator

    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n")[:-1]:
            try:
                errors = run_validator(line, stix_version="2.1")
            except Exception as e:  # the reference's own crash counts as a refusal
                errors = [repr(e)]
            print("invalid" if errors else "valid")


def main(paths):
    if paths[:1] == ["--patterns"]:
        patterns(paths[1])
        return
    options = ValidationOptions(version="2.1")
    for path in paths:
        results = validate_file(path, options)
        if results.is_valid:
            print(f"{path}\tvalid")
            continue
        errors = [str(e) for r in results.object_results for e in r.errors]
        errors += [str(e) for e in getattr(results, "fatal", None) and [results.fatal] or []]
        first = (errors[0] if errors else "invalid").replace("\t", " ").replace("\n", " ")
        print(f"{path}\tinvalid\t{first}")


if __name__ == "__main__":
    main(sys.argv[1:])
