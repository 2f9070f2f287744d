"""Parameter sweeps: `--sweep key=v1,v2 …` specs → the grid of settings, each run into its own folder."""

from __future__ import annotations

import copy
import itertools
import re

from aved.config import EditConfig, apply_overrides
from aved.errors import AvedError

_EXAMPLE = "e.g. relevance.tau_video=0.5,0.6,0.7"
_UNSAFE = re.compile(r"[^\w.=,+-]")


def parse_sweep_spec(spec: str) -> tuple[str, list[str]]:
    """'a.b=1,2' → ('a.b', ['1', '2']), checking the field name and each value's type."""
    key, sep, values = spec.partition("=")
    key = key.strip()
    if not sep or not key:
        raise AvedError(f"--sweep {spec!r}: expected key=value1,value2,… ({_EXAMPLE})")
    items = [v.strip() for v in values.split(",")]
    if not any(items) or not all(items):
        raise AvedError(f"--sweep {spec!r}: empty value in the list ({_EXAMPLE})")
    if len(set(items)) != len(items):
        raise AvedError(f"--sweep {spec!r}: a value is listed twice")
    for item in items:
        # Fail on a misspelt field or a bad value now, not after hours of the first settings.
        apply_overrides(EditConfig(), {key: item})
    return key, items


def expand_sweep(specs: list[str]) -> list[dict[str, str]]:
    """Grid product of the specs, in the order given (the last key varies fastest); [] when there are none."""
    parsed = [parse_sweep_spec(spec) for spec in specs]
    keys = [key for key, _ in parsed]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise AvedError(f"--sweep: {', '.join(repeated)} is given more than once; list all its values in one --sweep")
    if not parsed:
        return []
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(values for _, values in parsed))]


def setting_name(setting: dict[str, str]) -> str:
    """The folder name of a sweep setting, e.g. `relevance.tau_video=0.5__media.grid=2`."""
    return "__".join(_UNSAFE.sub("_", f"{key}={value}") for key, value in setting.items())


def apply_setting(config: EditConfig, setting: dict[str, str]) -> EditConfig:
    """A validated copy of `config` with the setting's fields set."""
    return apply_overrides(copy.deepcopy(config), setting).validate()
