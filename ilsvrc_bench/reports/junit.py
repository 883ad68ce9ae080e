"""The check verdict as JUnit XML: one test suite, one test case, a failure on a regression."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ilsvrc_bench.errors import IlsvrcBenchError
from ilsvrc_bench.reports.verdict import Verdict


def verdict_junit(verdict: Verdict, *, time_s: float = 0.0) -> str:
    """JUnit XML that CI systems (GitLab, Jenkins, GitHub test reporters) can display."""
    failures = "1" if verdict.regression else "0"
    suite = ET.Element(
        "testsuite",
        {
            "name": "ilsvrc-bench check",
            "tests": "1",
            "failures": failures,
            "errors": "0",
            "skipped": "0",
            "time": f"{time_s:.3f}",
        },
    )
    props = ET.SubElement(suite, "properties")  # the JUnit schema puts them first
    for key, value in verdict.as_dict().items():
        if isinstance(value, dict):  # the sides: their labels are properties already
            continue
        ET.SubElement(
            props, "property", {"name": key, "value": "" if value is None else str(value)}
        )
    case = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": "ilsvrc_bench.check",
            "name": f"{verdict.metric} {verdict.candidate.label} vs {verdict.baseline.label}",
            "time": f"{time_s:.3f}",
        },
    )
    if verdict.regression:
        failure = ET.SubElement(case, "failure", {"message": verdict.line(), "type": "regression"})
        failure.text = "\n".join([verdict.line(), *verdict.notes])
    else:
        ET.SubElement(case, "system-out").text = "\n".join([verdict.line(), *verdict.notes])
    root = ET.Element("testsuites", {"tests": "1", "failures": failures, "errors": "0"})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def error_junit(exc: IlsvrcBenchError, *, baseline: str, candidate: str) -> str:
    """JUnit XML for a check that could not compare (an error, not a failure)."""
    root = ET.Element("testsuites", {"tests": "1", "failures": "0", "errors": "1"})
    suite = ET.SubElement(
        root, "testsuite", {"name": "ilsvrc-bench check", "tests": "1", "errors": "1"}
    )
    case = ET.SubElement(
        suite, "testcase", {"classname": "ilsvrc_bench.check", "name": f"{candidate} vs {baseline}"}
    )
    error = ET.SubElement(case, "error", {"message": str(exc), "type": type(exc).__name__})
    error.text = str(exc)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
