"""Refuse a service name that `scaffold new` would refuse, before anything is written."""

import keyword
import re
import sys

slug = "{{ cookiecutter.project_slug }}"
package = "{{ cookiecutter.package_name }}"

problem = None
if not re.match(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", slug) or len(slug) > 40:
    problem = "use at most 40 lowercase letters and digits, words joined by '-'"
elif package != slug.replace("-", "_"):
    problem = "package_name must be project_slug with '-' replaced by '_'"
elif keyword.iskeyword(package) or package in sys.stdlib_module_names:
    problem = f"{package!r} is a Python keyword or standard-library module"
elif slug in {"scaffold", "test", "tests"}:
    problem = "the name is reserved"

if problem:
    print(f"Error: invalid service name {slug!r}: {problem} (e.g. acme-widgets)", file=sys.stderr)
    sys.exit(1)
