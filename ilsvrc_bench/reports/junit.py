"""The check verdict as JUnit XML: one test suite, one test case, a failure on a regression."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ilsvrc_bench.reports.check import Verdict


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
