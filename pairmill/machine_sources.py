"""Source code already on this machine, for recipes (`discover:`) and the demo: nothing is
downloaded. The packages of the running Python's site-packages (up to a size budget), and, when
present, npm's node_modules, a JDK's src.zip, Go's, Ruby's and PHP's libraries."""

from __future__ import annotations

import glob
import os
import sysconfig

# Other languages' libraries that distributions install; one of each is plenty for a demo.
OTHER_LANGUAGE_SOURCES = (
    ("/usr/lib/node_modules/npm/node_modules", "/usr/local/lib/node_modules/npm/node_modules"),
    ("/usr/lib/jvm/*/lib/src.zip",),
    ("/usr/local/go/src", "/usr/lib/go/src"),
    ("/usr/lib/ruby/[0-9]*",),
    ("/usr/share/php",),
)


def python_package_dirs(budget_bytes: int) -> list[str]:
    """Package folders of site-packages, in name order, until `budget_bytes` of .py source."""
    site = sysconfig.get_paths()["purelib"]
    chosen, total = [], 0
    for name in sorted(os.listdir(site)):
        path = os.path.join(site, name)
        if not os.path.isfile(os.path.join(path, "__init__.py")):
            continue
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path)
                   for f in fs if f.endswith(".py"))
        if total + size > budget_bytes:
            continue
        chosen.append(path)
        total += size
    return chosen


def other_language_inputs() -> list[str]:
    found = []
    for patterns in OTHER_LANGUAGE_SOURCES:
        paths = [p for pattern in patterns for p in sorted(glob.glob(pattern)) if os.path.exists(p)]
        if paths:
            found.append(paths[0])
    return found
