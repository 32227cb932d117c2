"""Check the locked Python dependencies against known advisories (pip-audit, PyPI's service).

Fails on a known vulnerability. Where the advisory service can't be reached
(a machine that only sees a package mirror), says so and passes: the floors
in tests/conformance/test_dependencies.py still hold the critical libraries.
"""

import json
import subprocess
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"

result = subprocess.run(
    [sys.executable, "-m", "pip_audit", "-r", str(LOCK), "--no-deps", "--disable-pip", "--format", "json",
     "--progress-spinner", "off"],
    capture_output=True, text=True,
)
try:
    report = json.loads(result.stdout)
except ValueError:
    print(f"dependency audit: pip-audit failed to run:\n{result.stderr.strip()[-2000:]}")
    sys.exit(1)

dependencies = report.get("dependencies", [])
audited = [d for d in dependencies if "skip_reason" not in d]
vulnerable = [d for d in audited if d.get("vulns")]
for dependency in vulnerable:
    for vuln in dependency["vulns"]:
        fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
        print(f"dependency audit: {dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
if vulnerable:
    sys.exit(1)
if not audited:
    print(f"dependency audit: the advisory service could not be reached; {len(dependencies)} packages not audited")
else:
    print(f"dependency audit: {len(audited)} packages audited, no known vulnerability")
