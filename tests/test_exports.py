"""The public surface: complete, sorted, and importable without extras."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

import sluiceway as sw
from sluiceway import errors


def test_all_is_sorted_and_complete() -> None:
    """__all__ lists every public name of the package, sorted."""
    public = sorted(
        name
        for name, value in vars(sw).items()
        if not name.startswith("_")
        and (not isinstance(value, types.ModuleType) or name == "errors")
    )
    assert sw.__all__ == sorted(sw.__all__)
    assert sorted(sw.__all__) == public


def test_exports_say_they_are_public() -> None:
    """Re-exported functions and classes name the top-level module, as users import them."""
    for name in ("Stream", "stream", "from_batches", "borrow", "zip", "concat"):
        assert getattr(sw, name).__module__ == "sluiceway"


def test_every_error_derives_from_the_root() -> None:
    """Every exception class in sluiceway.errors is a SluicewayError."""
    classes = [getattr(errors, name) for name in errors.__all__]
    assert classes
    for cls in classes:
        assert issubclass(cls, errors.SluicewayError)
    assert issubclass(errors.StreamConsumedError, RuntimeError)
    assert issubclass(errors.UnsupportedBackendError, RuntimeError)
    assert issubclass(errors.EmptyStreamError, ValueError)


def test_import_needs_only_anyio() -> None:
    """`import sluiceway` loads no optional integration."""
    code = (
        "import sys, sluiceway\n"
        "heavy = {'httpx', 'asyncpg', 'psycopg', 'aiosqlite', 'redis', 'nats', 'pymongo', 'trio'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


#: The one class two subpackages export: defined once, in the module they share.
SHARED = {
    "RetryNotice": ("sluiceway._transport._notice", {"sluiceway.sse", "sluiceway.http"}),
    # The HTTP layer's own types, which custom strategies use: public in sluiceway.http.
    "Request": ("sluiceway._transport._base", {"sluiceway.http"}),
    "URL": ("sluiceway._transport._url", {"sluiceway.http"}),
}


@pytest.mark.parametrize(
    "name", ["sluiceway.sse", "sluiceway.http", "sluiceway.db", "sluiceway.brokers"]
)
def test_subpackage_all_is_sorted_complete_and_resolves(name: str) -> None:
    """Each source subpackage's __all__ is in ruff's order, lists its public names, resolves."""
    module = importlib.import_module(name)
    exported = module.__all__
    # ruff's RUF022 order: constants, then classes, then functions, each sorted.
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    assert len(set(exported)) == len(exported)
    defined = {
        public
        for public, value in vars(module).items()
        if not public.startswith("_")
        and not isinstance(value, types.ModuleType)
        and public not in {"TYPE_CHECKING", "Any", "annotations"}
    }
    assert defined <= set(exported)
    for public in exported:
        value = getattr(module, public)  # names loaded on first use resolve too
        assert value is not None
        if public in SHARED:
            home, exporters = SHARED[public]
            assert name in exporters, (public, name)
            assert value.__module__ == home, (public, value.__module__)
        elif isinstance(value, type) or callable(value):
            assert value.__module__.startswith(name), (public, value.__module__)


def test_a_shared_class_is_one_object_everywhere() -> None:
    """RetryNotice is the same class from sluiceway.sse and sluiceway.http."""
    for public, (home, exporters) in SHARED.items():
        found = {id(getattr(importlib.import_module(name), public)) for name in exporters}
        assert found == {id(getattr(importlib.import_module(home), public))}


@pytest.mark.parametrize(
    ("name", "old"), [("sluiceway.sse", "Reconnect"), ("sluiceway.http", "Retrying")]
)
def test_deprecated_notice_names_still_import(name: str, old: str) -> None:
    """The old notice names give RetryNotice, with a DeprecationWarning that names it."""
    module = importlib.import_module(name)
    with pytest.warns(DeprecationWarning, match=rf"{name}\.{old} is deprecated.*RetryNotice"):
        value = getattr(module, old)
    assert value is module.RetryNotice
    assert old not in module.__all__


def test_deprecated_notice_names_warn_when_imported() -> None:
    """`from ... import Reconnect` and `... import Retrying` warn, and give RetryNotice."""
    from sluiceway.http import RetryNotice

    with pytest.warns(DeprecationWarning, match="Reconnect"):
        from sluiceway.sse import Reconnect
    with pytest.warns(DeprecationWarning, match="Retrying"):
        from sluiceway.http import Retrying
    assert Reconnect is RetryNotice
    assert Retrying is RetryNotice


@pytest.mark.parametrize("name", ["sluiceway.sse", "sluiceway.http"])
def test_an_unknown_name_is_still_an_attribute_error(name: str) -> None:
    """The deprecation hook answers only for the old names."""
    module = importlib.import_module(name)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        module.Nope
