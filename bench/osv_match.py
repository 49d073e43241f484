"""Offline advisory matching (maintenance/osv.py) on a real OSV directory.

Audits the portal's own environment (every installed distribution) against an advisory
directory in the PyPA layout, reading only the installed packages' folders (what the security
audit does), next to reading every advisory of the directory, and prints the ratio. Framework-free:
no database.

    PORTAL_ADVISORY_DB=path/to/advisory-database .venv/bin/python bench/osv_match.py
    .venv/bin/python bench/osv_match.py path/to/advisory-database
"""

import importlib.metadata
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from maintenance.osv import advisories_load, advisories_match, findings_merge, normalize  # noqa: E402


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORTAL_ADVISORY_DB", "")
    if not root:
        raise SystemExit("give an advisory directory (argument or PORTAL_ADVISORY_DB)")
    installed = {normalize(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    base = Path(root) / "vulns" if (Path(root) / "vulns").is_dir() else Path(root)
    every = [p.name for p in base.iterdir() if p.is_dir()]

    start = time.perf_counter()
    loaded = advisories_load(root, installed)
    merged = findings_merge(advisories_match(installed, loaded.advisories))
    targeted = time.perf_counter() - start

    start = time.perf_counter()
    everything = advisories_load(root, every)
    all_merged = findings_merge(advisories_match(installed, everything.advisories))
    full = time.perf_counter() - start

    assert [f.id for f in merged] == [f.id for f in all_merged], "reading only the folders lost a finding"
    print(f"{len(installed)} installed distributions, {len(every)} package folders in the directory")
    print(f"installed folders only: {len(loaded.advisories)} advisories read, {targeted * 1000:.0f} ms")
    print(f"every advisory:         {len(everything.advisories)} advisories read, {full * 1000:.0f} ms")
    print(f"findings: {len(merged)} (the same both ways); ratio every/installed-only: {full / targeted:.1f}x")
    for finding in merged[:10]:
        print(f"  {finding.package} {finding.version}: {finding.id} fix {', '.join(finding.fix_versions) or 'none'}")


if __name__ == "__main__":
    main()
