"""Print one closing line over every session's JUnit report: 'tests: N passed, N failed, N skipped'."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

passed = failed = skipped = 0
for report in sorted(Path(sys.argv[1]).glob("*.xml")):
    for suite in ET.parse(report).getroot().iter("testsuite"):  # noqa: S314 (our own reports)
        total = int(suite.get("tests", 0))
        fail = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        passed += total - fail - skip
        failed += fail
        skipped += skip
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
