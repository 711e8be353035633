"""The binding's parameter table is the library's: read at import through
``wn_param_name`` / ``wn_param_bounds``, equal to the header's ``WN_PARAM_*``
keys, and used to refuse values outside the bounds."""

import ctypes
import math
import re
from pathlib import Path

import pytest

import winnow
from winnow import engine
from winnow._lib import lib

HEADER = Path(__file__).resolve().parents[3] / "Sources" / "WinnowC" / "include" / "winnow.h"


def c_table():
    """Every key straight from the C functions: name -> (key, low, high, flags, default)."""
    table, key = {}, 1
    while (name := lib.wn_param_name(key)) is not None:
        lo, hi, flags, default = ctypes.c_double(), ctypes.c_double(), ctypes.c_int32(), ctypes.c_double()
        assert lib.wn_param_bounds(key, ctypes.byref(lo), ctypes.byref(hi), ctypes.byref(flags)) == 0
        assert lib.wn_param_default(key, ctypes.byref(default)) == 0
        table[name.decode()] = (key, lo.value, hi.value, flags.value, default.value)
        key += 1
    return table


def test_the_binding_table_equals_the_c_table():
    c = c_table()
    assert engine.PARAMS == {name: row[0] for name, row in c.items()}
    for name, (_, lo, hi, flags, default) in c.items():
        assert winnow.param_bounds(name) == (lo, hi, bool(flags & 1), bool(flags & 2))
        assert engine.PARAM_BOUNDS[name].default == default
    assert engine.INTEGER_PARAMS == {name for name, row in c.items() if row[3] & 1}


def test_the_c_table_has_every_key_of_the_header():
    defined = dict(re.findall(r"#define WN_PARAM_([A-Z_]+) (\d+)", HEADER.read_text()))
    keys = {name.lower(): int(v) for name, v in defined.items() if not name.startswith("FLAG_")}
    assert keys == engine.PARAMS


@pytest.mark.parametrize("name", sorted(c_table()))
def test_values_just_outside_the_bounds_are_refused(name):
    low, high, integer, low_is_open = winnow.param_bounds(name)
    e = winnow.Engine([1, 2, 3], feature_dim=2)
    assert e.get_param(name) == engine.PARAM_BOUNDS[name].default
    e.set_param(name, high)
    assert e.get_param(name) == high
    below = low if low_is_open else math.nextafter(low, -math.inf)
    above = math.nextafter(high, math.inf)
    if name == "seed":
        # Whole seeds are taken modulo 2^64 by the binding (any uint64_t is a seed).
        outside = (-0.5, 0.5)
    elif integer:
        outside = (below - 1, high * 2 + 1, low + 0.5)
    else:
        outside = (below, above)
    for value in outside:
        with pytest.raises(winnow.InvalidArgumentError, match=name):
            e.set_param(name, value)
    assert e.get_param(name) == high
