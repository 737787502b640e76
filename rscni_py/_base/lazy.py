"""The SDK's one lazy-import mechanism: names of a module that are imported from their home when first used.

Every plugin start pays for what it imports (docs/cost-model.md), so a package re-exports its names, and a model
module names its sub-models, without importing them::

    _LAZY = LazyNames(__name__, {"Result": "rscni_py.types.v1_0", "ALL": "rscni_py._base.versions:ALL_VERSIONS"})
    __getattr__, __dir__ = _LAZY.module_getattr, _LAZY.module_dir

A name is imported on its first lookup and then bound in the module, so later lookups are plain attribute reads.
Type checkers see the same names through ``if TYPE_CHECKING:`` imports. :meth:`LazyNames.resolve_annotations`
lets ``typing.get_type_hints`` read a class whose annotations name such lazy names.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["LazyNames"]


class LazyNames:
    """The lazily imported names of one module: ``homes`` maps each to ``"module"`` or ``"module:attribute"``."""

    __slots__ = ("_homes", "_module")

    def __init__(self, module: str, homes: Mapping[str, str]) -> None:
        self._module = module
        self._homes = dict(homes)

    @property
    def homes(self) -> Mapping[str, str]:
        """Each lazy name and its home, ``"module"`` or ``"module:attribute"``."""
        return self._homes

    def get(self, name: str) -> Any:
        """Import ``name`` from its home, bind it in the module and return it."""
        home = self._homes.get(name)
        if home is None:
            raise AttributeError(f"module {self._module!r} has no attribute {name!r}")
        where, _, attribute = home.partition(":")
        # __import__ rather than importlib.import_module: the same import, and -X importtime reports it.
        value = getattr(__import__(where, fromlist=[attribute or name]), attribute or name)
        setattr(sys.modules[self._module], name, value)
        return value

    def module_getattr(self, name: str) -> Any:
        """The module's ``__getattr__``: called for names not bound yet."""
        return self.get(name)

    def module_dir(self) -> list[str]:
        """The module's ``__dir__``: its public names (``__all__``) and the lazy ones."""
        return sorted({*getattr(sys.modules[self._module], "__all__", ()), *self._homes})

    def resolve_annotations(self, cls: type) -> None:
        """Let ``typing.get_type_hints(cls)`` resolve the lazy names ``cls``'s annotations use.

        ``get_type_hints`` evaluates string annotations in the module's namespace, which a module ``__getattr__``
        does not reach; this binds the names there when the annotations are first read for evaluation.
        """
        own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - the dict get_type_hints reads
        type.__setattr__(cls, "__annotations__", _Annotations(own, self))

    def _bind_all(self) -> None:
        namespace = vars(sys.modules[self._module])
        for name in self._homes:
            if name not in namespace:
                self.get(name)


class _Annotations(dict[str, Any]):
    """A class's annotations that bind their module's lazy names before they are read for evaluation."""

    __slots__ = ("_names",)

    def __init__(self, annotations: Mapping[str, Any], names: LazyNames) -> None:
        super().__init__(annotations)
        self._names = names

    def items(self) -> Any:
        # typing.get_type_hints reads a class's annotations with items().
        self._names._bind_all()
        return super().items()

    def __reduce__(self) -> tuple[type, tuple[Iterable[tuple[str, Any]]]]:
        return (dict, (list(super().items()),))
