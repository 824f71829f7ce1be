"""The claims ledger: one page, ``book/claims.md`` ("What this book shows"), that lists
every claims test of the book per chapter, with the paper's statement, the miniature's
claim, the numbers measured on each seed and the status, rendered from a claims run (the
JSON lines that ``fourpapers.claims`` writes, ``_build/claims.jsonl``).

What a claim says lives in ``book/claims.yml`` (:func:`load_ledger`), keyed by test
function name; what it measured comes from the run. A claim's id is its test function,
``tests/test_x.py::test_name``, or ``tests/x::test_name`` for a chapter whose tests are
a folder (:func:`claim_id`); its per-seed values come from the ``[seed]`` items of that
test (a test without a seed parameter reports seed ``"all"``: an aggregate over the
run's seeds). :func:`collected_claims` asks pytest which claims tests exist (collection
only, no claims run), so a test can check that the metadata and the page name exactly
those (:func:`page_ids`).

    python -m fourpapers.ledger render RUN.jsonl... [--seeds 0,1,2] \
        [--out book/claims.md]
    python -m fourpapers.ledger check RUN.jsonl... [--page book/claims.md]

``check`` renders the page again from a run and compares it with the committed one, at
the digits the page prints.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import pathlib
import re
import subprocess
import sys

from . import claims as _claims

__all__ = [
    "STATUSES",
    "load_ledger",
    "claim_id",
    "ledger_ids",
    "collected_claims",
    "page_ids",
    "claim_results",
    "render",
    "compare",
    "format_value",
]

ROOT = pathlib.Path(__file__).resolve().parents[2]
LEDGER = ROOT / "book" / "claims.yml"
PAGE = ROOT / "book" / "claims.md"
STATUSES = ("shown", "not shown")
# where a chapter's tests live: a folder tests/<module>/ or one file
# tests/test_<module>.py
TEST_FILES = {
    chapter: f"tests/{name}"
    if (ROOT / "tests" / name).is_dir()
    else f"tests/test_{name}.py"
    for name, chapter in _claims.CHAPTERS.items()
}


def claim_id(test: str) -> str:
    """A claims test's id in the ledger, whichever file of its chapter holds it:
    ``tests/ulmfit/test_stages.py::test_x[1]`` -> ``tests/ulmfit::test_x[1]``; a test
    outside the chapters keeps its id."""
    chapter = _claims._chapter(test)
    if chapter is None or "::" not in test:
        return test
    return f"{TEST_FILES[chapter]}::{test.split('::', 1)[1]}"


# a MyST comment line: the seeds and float path the page was rendered from
_META = "% ledger: "
_CLAIM_FIELDS = {"paper", "miniature", "status", "show"}


def load_ledger(path: str | os.PathLike = LEDGER) -> dict:
    """Read and check the ledger's metadata (``book/claims.yml``): ``{chapter: {"title",
    "notebook", "claims": {test name: {"paper", "miniature", "status", "show"}},
    "untested": [...]}}``. Raises ``ValueError`` naming the chapter, the claim and the
    field that is missing or wrong."""
    import yaml

    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"path: no ledger metadata at {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    chapters = data.get("chapters")
    if not isinstance(chapters, dict) or not chapters:
        raise ValueError(
            f"{path.name}: expected a mapping 'chapters' of chapter number -> entries"
        )
    out = {}
    for chapter, entry in chapters.items():
        where = f"{path.name}: chapter {chapter}"
        if not str(chapter).isdigit() or int(chapter) not in TEST_FILES:
            raise ValueError(
                f"{where}: expected a chapter number among {sorted(TEST_FILES)}"
            )
        if not isinstance(entry, dict):
            raise ValueError(
                f"{where}: expected a mapping with title, notebook, claims, untested"
            )
        for field in ("title", "notebook", "claims"):
            if not entry.get(field):
                raise ValueError(f"{where}: '{field}' is missing")
        claims = {}
        for name, claim in entry["claims"].items():
            at = f"{where}, {name}"
            if not re.fullmatch(r"test_\w+", str(name)):
                raise ValueError(f"{at}: expected a test function name")
            if not isinstance(claim, dict) or set(claim) != _CLAIM_FIELDS:
                got = sorted(claim) if isinstance(claim, dict) else claim
                raise ValueError(
                    f"{at}: expected exactly the fields {sorted(_CLAIM_FIELDS)}, got "
                    f"{got}"
                )
            if claim["status"] not in STATUSES:
                raise ValueError(
                    f"{at}: status: expected one of {STATUSES}, got {claim['status']!r}"
                )
            for field in ("paper", "miniature"):
                if not isinstance(claim[field], str) or not claim[field].strip():
                    raise ValueError(f"{at}: {field}: expected a sentence")
            if not isinstance(claim["show"], list) or not claim["show"]:
                raise ValueError(
                    f"{at}: show: expected a list of the reported numbers to print"
                )
            claims[name] = {**claim, "show": [str(k) for k in claim["show"]]}
        untested = entry.get("untested") or []
        if not isinstance(untested, list) or not all(
            isinstance(u, str) for u in untested
        ):
            raise ValueError(f"{where}: untested: expected a list of sentences")
        out[int(chapter)] = {
            "title": entry["title"],
            "notebook": entry["notebook"],
            "claims": claims,
            "untested": untested,
        }
    return dict(sorted(out.items()))


def ledger_ids(ledger: dict) -> set[str]:
    """The claim ids the metadata names: ``tests/test_x.py::test_name``."""
    return {
        f"{TEST_FILES[ch]}::{name}"
        for ch, entry in ledger.items()
        for name in entry["claims"]
    }


def collected_claims(root: str | os.PathLike = ROOT) -> set[str]:
    """The claims tests pytest collects under ``root``'s ``tests/`` (``pytest
    --collect-only -m claims``; nothing runs), as ids without the ``[seed]`` part."""
    root = pathlib.Path(root)
    if not (root / "tests").is_dir():
        raise ValueError(f"root: expected a folder holding tests/, got {str(root)!r}")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (_claims.ENV, "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-m",
            "claims",
            "-p",
            "no:cacheprovider",
            "tests",
            "--ignore=tests/browser",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"pytest could not collect the claims "
            f"tests:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return {
        claim_id(line.split("[", 1)[0])
        for line in proc.stdout.splitlines()
        if "::" in line and not line.startswith(" ")
    }


def page_ids(text: str) -> set[str]:
    """The claim ids a rendered page lists: the test names in its tables, each under its
    chapter's heading."""
    ids, chapter = set(), None
    for line in text.splitlines():
        m = re.match(r"\(ledger-chapter-(\d+)\)=", line)
        if m:
            chapter = int(m.group(1))
        elif line.startswith("| ") and chapter is not None:
            for name in re.findall(
                r"<code[^>]*>(test_\w+)</code>", line.replace("<wbr>", "")
            ):
                ids.add(f"{TEST_FILES[chapter]}::{name}")
    return ids


def claim_results(results: dict) -> dict[str, dict]:
    """Group a run (``fourpapers.claims.read_results``) by claim id:
    ``{id: {seed: {"reports": [...], "outcome": ...}}}``, where ``seed`` is an int, or
    ``"all"`` for a test without a seed parameter."""
    out: dict[str, dict] = {}
    for test, rec in results.items():
        m = re.fullmatch(r"(.+?)(?:\[(\d+)\])?", test)
        claim, seed = claim_id(m.group(1)), m.group(2)
        seeds = {r["seed"] for r in rec["reports"]}
        if seed is not None:
            key = int(seed)
        elif seeds and all(isinstance(s, int) for s in seeds) and len(seeds) == 1:
            key = seeds.pop()
        else:
            key = "all"
        out.setdefault(claim, {})[key] = {
            "reports": rec["reports"],
            "outcome": rec["outcome"],
        }
    return out


def format_value(value) -> str:
    """A number as the page prints it: 3 significant digits (integers as they are), text
    as it is."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.3g}"
    return str(value)


def _numbers(claim_id: str, show: list[str], reports: list[dict]) -> str:
    """The ``show`` numbers of each report; a test that reports several seeds (an
    aggregate with its per-seed parts) labels each report by its seed and prints the
    numbers it has, else by the claim's first word."""
    parts = []
    by_seed = len({str(r["seed"]) for r in reports}) > 1
    for rep in reports:
        keys = [k for k in show if k in rep["numbers"]] if by_seed else show
        missing = (
            [k for k in show if all(k not in r["numbers"] for r in reports)]
            if by_seed
            else [k for k in show if k not in rep["numbers"]]
        )
        if missing:
            raise ValueError(
                f"{claim_id}: show: {missing} not among the numbers the test reports "
                f"({sorted(rep['numbers'])}); update book/claims.yml"
            )
        if not keys:
            continue
        text = ", ".join(f"{k} {format_value(rep['numbers'][k])}" for k in keys)
        if by_seed:
            label = "all seeds" if rep["seed"] == "all" else f"seed {rep['seed']}"
        else:
            label = rep["claim"].split()[0].rstrip(":")
        parts.append(f"{label}: {text}" if by_seed or len(reports) > 1 else text)
    return "; ".join(parts).replace("|", "\\|")


def _status(meta: dict, per_seed: dict, seeds: list[int], run_seeds: list[int]) -> str:
    failed = [s for s in seeds if s in per_seed and per_seed[s]["outcome"] == "failed"]
    if failed:
        return f"**FAILED** on seed {', '.join(map(str, failed))}"
    if "all" in per_seed and per_seed["all"]["outcome"] == "failed":
        return f"**FAILED** over seeds {_seed_label(run_seeds)}"
    other = sorted(
        {r["outcome"] or "no outcome recorded" for r in per_seed.values()} - {"passed"}
    )
    if other:  # skipped, or no outcome (the run stopped): not shown
        return ", ".join(other)
    status = f"**{meta['status']}**"
    ran = [s for s in seeds if s in per_seed]
    if "all" not in per_seed and len(ran) < len(seeds):
        status += f" (checked on seed {', '.join(map(str, ran))} only)"
    return status


def _seed_label(seeds) -> str:
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def render(
    ledger: dict,
    results: dict,
    seeds: list[int] | None = None,
    source: str = "a claims run",
    float_path: str = "",
) -> str:
    """The ledger page (markdown for the book) from the metadata (:func:`load_ledger`)
    and a run (``fourpapers.claims.read_results``). ``seeds`` selects the per-seed
    columns (default: every seed the run reports); aggregate claims (seed ``"all"``) are
    shown over the run's own seeds. Raises ``ValueError`` when the run reports a claims
    test the metadata does not name, or a number the metadata asks for is not
    reported."""
    by_claim = claim_results(results)
    unknown = sorted(set(by_claim) - ledger_ids(ledger))
    if unknown:
        raise ValueError(
            f"results: claims tests missing from book/claims.yml: {unknown}"
        )
    run_seeds = sorted({s for per in by_claim.values() for s in per if s != "all"})
    if seeds is None:
        seeds = run_seeds
    seeds = list(seeds)
    if not seeds or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds
    ):
        raise ValueError(
            f"seeds: expected one or more non-negative integers, got {seeds!r}"
        )
    meta = json.dumps({"seeds": seeds, "float_path": float_path})
    counts = {"shown": 0, "not shown": 0, "other": 0}
    body = []
    for chapter, entry in ledger.items():
        body += [
            "",
            f"(ledger-chapter-{chapter})=",
            f"## Chapter {chapter}. {entry['title']}",
            "",
            f"The chapter: {{doc}}`../{entry['notebook']}`; its tests: "
            f"`{TEST_FILES[chapter]}`.",
            "",
            "| the paper | this miniature (its test) | measured | status |",
            "|---|---|---|---|",
        ]
        for name, claim in entry["claims"].items():
            cid = f"{TEST_FILES[chapter]}::{name}"
            per_seed = {
                s: r
                for s, r in by_claim.get(cid, {}).items()
                if s == "all" or s in seeds
            }
            if not per_seed:
                measured, status = "not in this run", "not run"
                counts["other"] += 1
            else:
                lines = [
                    f"seed {s}: {_numbers(cid, claim['show'], per_seed[s]['reports'])}"
                    for s in seeds
                    if s in per_seed
                ]
                if "all" in per_seed:
                    lines.append(
                        f"over seeds {_seed_label(run_seeds)}: "
                        f"{_numbers(cid, claim['show'], per_seed['all']['reports'])}"
                    )
                measured = "<br>".join(lines)
                status = _status(claim, per_seed, seeds, run_seeds)
                counts[
                    claim["status"]
                    if status.startswith(f"**{claim['status']}**")
                    else "other"
                ] += 1
            body.append(
                f"| {_cell(claim['paper'])} | {_cell(claim['miniature'])} "
                f"({_test_name(name)}) | "
                f"{measured} | {status} |"
            )
        if entry["untested"]:
            body += [
                "",
                "Reported in the chapter without a test, so never counted as shown:",
                "",
            ]
            body += [f"* {u}" for u in entry["untested"]]
    summary = f"{counts['shown']} claims shown, {counts['not shown']} not shown" + (
        f", {counts['other']} failed or not run" if counts["other"] else ""
    )
    head = [
        "# What this book shows",
        "",
        "Every figure's claim in this book is a test, asserted on several seeds. This "
        "page lists every one of them,",
        "chapter by chapter: the paper's statement and number, the miniature's claim "
        "in the chapter's words, the",
        "numbers our test measured on each seed, and the status:",
        "",
        "* **shown**: the test asserts the claim (the paper's finding, in miniature), "
        "and it held on every seed;",
        "* **not shown**: the miniature does not reproduce the paper's finding; the "
        "chapter says so, and the test",
        "  asserts what the chapter states, with its numbers;",
        "* **FAILED**: the test failed on the seeds named (never counted as shown).",
        "",
        "Findings a chapter reports without a test are listed under its table and "
        "never counted as shown. The paper's",
        "numbers are the paper's; ours are in the *measured* column, rounded to 3 "
        "significant digits.",
        "",
        _META + meta,
        f"**This page:** {summary}; seeds {_seed_label(seeds)}, rendered by `make "
        f"ledger` from {source}. Check the",
        "claims on seeds of your own with `FOURPAPERS_SEEDS=11,12,13 make ledger`, "
        "which runs every claims test on",
        "those seeds and writes this page for them to `_build/` (see the README).",
    ]
    return "\n".join(head + body) + "\n"


def _test_name(name: str) -> str:
    # inline HTML: a code span that may break after each underscore (<wbr>), so that
    # long names wrap in a table
    return (
        '<code class="docutils literal notranslate">'
        + name.replace("_", "_<wbr>")
        + "</code>"
    )


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _page_meta(text: str) -> dict:
    for line in text.splitlines():
        if line.startswith(_META):
            return json.loads(line[len(_META) :])
    raise ValueError(
        "page: no ledger metadata line (was it rendered by `make ledger`?)"
    )


def compare(page: str, rendered: str) -> list[str]:
    """The lines of the committed ``page`` that differ from a page ``rendered`` from a
    run (the numbers at the digits the page prints, the statuses, the ids), as a unified
    diff without the provenance lines; empty when current."""

    def strip(text):
        return [
            line
            for line in text.splitlines()
            if not line.startswith((_META, "**This page:**"))
        ]

    return [
        line
        for line in difflib.unified_diff(
            strip(page), strip(rendered), "book/claims.md", "this run", lineterm="", n=0
        )
        if not line.startswith("@@")
    ]


def _read_runs(paths) -> dict:
    results: dict = {}
    for path in paths:
        if not pathlib.Path(path).is_file():
            raise ValueError(
                f"results: no claims run at {path} (run `make test` first)"
            )
        for test, rec in _claims.read_results(path).items():
            results[test] = rec
    return results


def main(argv=None) -> int:
    """``render RUN.jsonl... [--seeds S] [--out PAGE]`` writes the page; ``check
    RUN.jsonl... [--page PAGE]`` compares the committed page with the run: exit 1 where
    they differ on the float path the page was rendered on, a note (exit 0) on another
    float path or other seeds, where numbers are expected to move."""
    import argparse

    from .book import float_path

    ap = argparse.ArgumentParser(
        prog="python -m fourpapers.ledger", description=__doc__.splitlines()[0]
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="render the ledger page from claims runs")
    r.add_argument("runs", nargs="+")
    r.add_argument(
        "--seeds", help="comma-separated seeds to show (default: every seed of the run)"
    )
    r.add_argument("--out", default=str(PAGE))
    r.add_argument(
        "--source", help="where the run comes from, in words (default: the run's path)"
    )
    c = sub.add_parser("check", help="compare the committed page with a claims run")
    c.add_argument("runs", nargs="+")
    c.add_argument("--page", default=str(PAGE))
    for cmd in (r, c):
        cmd.add_argument(
            "--ledger",
            default=str(LEDGER),
            help="the claims' metadata (default book/claims.yml)",
        )
    args = ap.parse_args(argv)
    try:
        return _command(args, float_path())
    except ValueError as e:
        print(f"ledger: {e}")
        return 1


def _command(args, here: str) -> int:
    ledger, results = load_ledger(args.ledger), _read_runs(args.runs)
    if args.cmd == "render":
        seeds = None
        if args.seeds:
            try:
                seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
            except ValueError:
                raise ValueError(
                    f"--seeds: expected comma-separated integers, got {args.seeds!r}"
                ) from None
        source = args.source or ", ".join(f"`{_display(p)}`" for p in args.runs)
        text = render(ledger, results, seeds, source=source, float_path=here)
        out = pathlib.Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(
            f"wrote {_display(out)}: "
            f"{text.split('**This page:** ', 1)[1].split(';', 1)[0]}"
        )
        return 0
    page = pathlib.Path(args.page).read_text(encoding="utf-8")
    meta = _page_meta(page)
    run_seeds = {
        s for per in claim_results(results).values() for s in per if s != "all"
    }
    if not set(meta["seeds"]) <= run_seeds:
        print(
            f"ledger: not compared: the page shows seeds {meta['seeds']}, this run has "
            f"{sorted(run_seeds)}"
        )
        return 0
    diff = compare(page, render(ledger, results, meta["seeds"], float_path=here))
    if not diff:
        print(
            f"ledger: {_display(args.page)} matches this run (seeds "
            f"{_seed_label(meta['seeds'])})"
        )
        return 0
    same_path = meta["float_path"] == here
    print(
        f"ledger: {_display(args.page)} differs from this run in "
        f"{sum(1 for d in diff if d.startswith('-'))} "
        f"line(s); run `make ledger` (it renders from this run, no need to test again) "
        f"and commit the page:"
    )
    print("\n".join(diff[:40]) + ("\n..." if len(diff) > 40 else ""))
    if not same_path:
        print(
            f"(a note, not a failure: the page was rendered on another float path, "
            f"{meta['float_path']!r}; "
            f"this machine: {here!r})"
        )
        return 0
    return 1


def _display(path) -> str:
    path = pathlib.Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    raise SystemExit(main())
