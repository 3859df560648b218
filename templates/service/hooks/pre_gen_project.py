"""Refuse a service name that `scaffold new` would refuse, before anything is written.

This file is the one implementation of the name rules: cookiecutter runs it as the template's
hook, and `scaffold new` imports `name_problem` from it (scaffold.template._names). The table
it applies, `_name_rules` in cookiecutter.json, is the one home of the rules' data. It imports
nothing but the standard library, so plain `cookiecutter templates/service` runs it too.
"""

import json
import keyword
import re
import sys


def name_problem(slug, package, rules):
    """Why `slug` (package `package`) cannot name a service under `rules`, or None."""
    if not slug:
        return "the name is empty; use lowercase words joined by '-'"
    if len(slug) > rules["max_length"]:
        return f"it is {len(slug)} characters long; the limit is {rules['max_length']}"
    if not re.match(rules["pattern"], slug):
        return (
            "use lowercase letters and digits, starting with a letter, words joined by single '-'"
        )
    if package != slug.replace("-", "_"):
        return "package_name must be project_slug with '-' replaced by '_'"
    # Soft keywords of every Python a service may run on, not only the one running this.
    soft = set(keyword.softkwlist) | set(rules["soft_keywords"])
    if keyword.iskeyword(package) or package in soft:
        return f"{package!r} is a Python keyword"
    if package in sys.stdlib_module_names:
        return f"{package!r} would shadow the standard library module"
    if slug in rules["reserved"] or package in rules["reserved"]:
        return f"it is reserved ({', '.join(sorted(rules['reserved']))})"
    owner = rules["taken"].get(package)
    if owner is not None:
        return f"{package!r} would shadow the import package of the dependency {owner}"
    return None


if __name__ == "__main__":
    # Each value arrives as JSON inside a raw string; the spaces keep a JSON string's own
    # quote apart from the closing quotes.
    slug = json.loads(r""" {{ cookiecutter.project_slug | tojson }} """)
    problem = name_problem(
        slug,
        json.loads(r""" {{ cookiecutter.package_name | tojson }} """),
        json.loads(r""" {{ cookiecutter._name_rules | tojson }} """),
    )
    if problem:
        print(
            f"Error: invalid service name {slug!r}: {problem} (e.g. acme-widgets)", file=sys.stderr
        )
        sys.exit(1)
