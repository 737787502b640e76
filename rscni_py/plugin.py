"""``CNIPlugin``: the base class a plugin author subclasses, and ``CmdArgs``: what each method receives.

The class is generic over the plugin's configuration class and its CNI_ARGS class, so that
``args.config`` and ``args.cni_args`` have the author's own types under ``mypy --strict``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, NoReturn, get_args, get_origin

from rscni_py._base.lazy import LazyNames
from rscni_py._base.versions import ALL_VERSIONS, CURRENT_VERSION
from rscni_py.types.args import CNIArgs, cni_args_keys
from rscni_py.types.fields import ENGINES, Engine
from rscni_py.types.netconf import NetConf

if TYPE_CHECKING:
    from rscni_py.types import AnyResult, Result

__all__ = ["CNIPlugin", "CmdArgs", "PluginInfo", "override", "unimplemented"]

if TYPE_CHECKING:
    from typing_extensions import TypeVar, override

    ConfT = TypeVar("ConfT", bound=NetConf, default=NetConf)
    ArgsT = TypeVar("ArgsT", bound=CNIArgs, default=CNIArgs)
else:
    # At run time, plain TypeVars and a __class_getitem__ that fills in the defaults: typing_extensions' TypeVar
    # would do the same on Python < 3.13, but importing it costs a plugin's VERSION about 5 % (11.7 M of 222 M
    # instructions for the debug example, by valgrind).
    from typing import TypeVar

    ConfT = TypeVar("ConfT", bound=NetConf)
    ArgsT = TypeVar("ArgsT", bound=CNIArgs)

    def override(method):
        """Mark a method as overriding one of its base class: ``typing_extensions.override`` for type checkers.

        Type checkers see ``typing_extensions.override`` itself (a misspelled ``delet`` is an error); at run time it
        sets the same ``__override__`` marker without importing typing_extensions, which would cost a plugin's
        VERSION about 5 % (11.7 M of 222 M instructions for the debug example, by valgrind).
        """
        try:
            method.__override__ = True
        except (AttributeError, TypeError):
            pass
        return method


#: What a missing generic parameter means: ``CNIPlugin[MyConf]`` is ``CNIPlugin[MyConf, CNIArgs]``.
_PARAMETER_DEFAULTS: dict[object, type] = {ConfT: NetConf, ArgsT: CNIArgs}


def _with_defaults(cls: type, params: object) -> object:
    """The subscript of ``cls[params]`` with defaults appended for the trailing parameters left out."""
    given = params if isinstance(params, tuple) else (params,)
    expected: tuple[object, ...] = getattr(cls, "__parameters__", ())
    if len(given) >= len(expected) or not all(p in _PARAMETER_DEFAULTS for p in expected[len(given) :]):
        return params
    return (*given, *(_PARAMETER_DEFAULTS[p] for p in expected[len(given) :]))


@dataclass(frozen=True)
class CmdArgs(Generic[ConfT, ArgsT]):
    """Everything the runtime passed for one command: the CNI_* variables, stdin, and their parsed forms."""

    #: The CNI_COMMAND being served: one of ``rscni_py.protocol.commands.Command`` but VERSION, as a plain string.
    command: str
    #: CNI_CONTAINERID ("" for GC and STATUS).
    container_id: str
    #: CNI_NETNS: path of the container's network namespace ("" when the runtime gave none, e.g. some DELs).
    netns: str
    #: CNI_IFNAME: the interface name to create or act on inside the container.
    ifname: str
    #: CNI_ARGS, raw (``K=V;K2=V2``); ``cni_args`` holds it parsed.
    args: str
    #: CNI_PATH split into directories, where delegated plugins are looked up.
    path: list[str]
    #: The raw network configuration, as read from stdin; delegate with exactly these bytes.
    stdin_data: bytes
    #: The network configuration, decoded into the plugin's configuration class.
    config: ConfT
    #: CNI_ARGS, decoded into the plugin's CNI_ARGS class.
    cni_args: ArgsT
    #: The configuration's prevResult, converted to the 1.x model; None when there is none.
    prev_result: Result | None = None
    #: Whether CNI_NETNS_OVERRIDE asked to skip the own-namespace guard.
    netns_override: bool = False
    #: The configuration as a plain JSON object, every key included.
    raw_config: dict[str, Any] = field(default_factory=dict, repr=False)
    #: The whole environment the command ran with (``os.environ`` under ``run()``); delegation inside the command
    #: starts from it by default, so in-process test runners, which never touch ``os.environ``, reach the same
    #: delegates.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def cni_version(self) -> str:
        """The configuration's cniVersion; a missing one means 0.1.0 (spec)."""
        return self.config.cni_version or "0.1.0"

    if not TYPE_CHECKING:

        def __class_getitem__(cls, params):
            return super().__class_getitem__(_with_defaults(cls, params))


# The result types CmdArgs names, imported only if its annotations are evaluated (typing.get_type_hints): a plugin's
# VERSION never needs the result models of older versions.
_LAZY: Final = LazyNames(__name__, {"AnyResult": "rscni_py.types.convert", "Result": "rscni_py.types.v1_0"})
_LAZY.resolve_annotations(CmdArgs)


@dataclass(frozen=True)
class PluginInfo:
    """A plugin's answer to VERSION: the spec versions it supports (an immutable value)."""

    #: The spec versions, as the plugin listed them.
    supported_versions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The VERSION result object; ``cniVersion`` is always the newest spec version (docs/decisions.md, D-2)."""
        return {"cniVersion": CURRENT_VERSION, "supportedVersions": list(self.supported_versions)}


class CNIPlugin(abc.ABC, Generic[ConfT, ArgsT]):
    """Base class of a CNI plugin: implement ``add``, ``delete`` and ``check``, then call ``run()``.

    Class attributes a plugin may set:

    * ``supported_versions``: the spec versions it accepts (default: all of 0.1.0 to 1.1.0);
    * ``about``: one line printed on stderr when the plugin is run without CNI_COMMAND;
    * ``deadline``: seconds a command may take before it is stopped with code 11 (default: no limit);
    * ``codec``: what builds the models from JSON and back, ``"dataclasses-json"`` (the default) or ``"native"``.

    The configuration and CNI_ARGS classes come from the generic parameters:
    ``class MyPlugin(CNIPlugin[MyConf, K8sArgs])``; both default to the base classes.
    """

    supported_versions: ClassVar[tuple[str, ...]] = ALL_VERSIONS
    about: ClassVar[str] = ""
    #: Seconds a command may run before it is stopped with code 11 and unwound (None: no limit). The network
    #: configuration's ``deadline`` key overrides it. Only ``run()`` enforces it (it needs the process's signals).
    deadline: ClassVar[float | None] = None
    #: What turns the validated configuration into model objects, and results back into JSON, while this plugin
    #: serves a command: ``"dataclasses-json"`` (the default), or ``"native"``, the SDK's own plans, which give the
    #: same results faster and never import dataclasses-json (a bundle of the plugin then leaves it out).
    codec: ClassVar[Engine] = "dataclasses-json"
    #: Derived from the generic parameters at class creation; do not set by hand.
    config_class: ClassVar[type[NetConf]] = NetConf
    #: Derived from the generic parameters at class creation; do not set by hand.
    args_class: ClassVar[type[CNIArgs]] = CNIArgs

    if not TYPE_CHECKING:

        def __class_getitem__(cls, params):
            return super().__class_getitem__(_with_defaults(cls, params))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        versions = tuple(cls.supported_versions)
        if not versions:
            raise TypeError(f"{cls.__name__}.supported_versions is empty: a plugin must support at least one version")
        unknown = [v for v in versions if v not in ALL_VERSIONS]
        if unknown:
            raise TypeError(
                f"{cls.__name__}.supported_versions has unknown versions {unknown}; known: {list(ALL_VERSIONS)}"
            )
        cls.supported_versions = versions
        if cls.codec not in ENGINES:
            raise TypeError(f"{cls.__name__}.codec must be one of {list(ENGINES)}, not {cls.codec!r}")
        for base in getattr(cls, "__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, CNIPlugin):
                params = get_args(base)
                if len(params) > 0 and isinstance(params[0], type):
                    cls.config_class = _checked(cls, params[0], NetConf, "configuration")
                if len(params) > 1 and isinstance(params[1], type):
                    cls.args_class = _checked(cls, params[1], CNIArgs, "CNI_ARGS")
        # A CNI_ARGS class with an unsupported field type fails here, not at the first invocation.
        cni_args_keys(cls.args_class)

    @abc.abstractmethod
    def add(self, args: CmdArgs[ConfT, ArgsT]) -> AnyResult:
        """ADD: attach the container to the network and return the result (any version; ``run()`` converts it)."""

    @abc.abstractmethod
    def delete(self, args: CmdArgs[ConfT, ArgsT]) -> None:
        """DEL: release what ADD created. Must succeed when things are already gone."""

    @abc.abstractmethod
    def check(self, args: CmdArgs[ConfT, ArgsT]) -> None:
        """CHECK (spec >= 0.4.0): raise a ``CNIError`` when the attachment is not as ADD left it."""

    def undo_add(self, args: CmdArgs[ConfT, ArgsT]) -> None:
        """Undo a successful ADD whose result could not be delivered (stdout closed, a broken pipe).

        The runtime then sees a failed ADD and may never send DEL, so nothing ADD created may stay.  The
        dispatcher calls this after the write failed, with termination signals ignored.  The default runs
        ``delete`` with the same arguments and ``command`` "DEL" (DEL must cope with anything ADD left).
        """
        self.delete(replace(args, command="DEL"))

    def version(self) -> PluginInfo:
        """VERSION: the spec versions this plugin supports."""
        return PluginInfo(self.supported_versions)

    def status(self, args: CmdArgs[ConfT, ArgsT]) -> None:
        """STATUS (spec >= 1.1.0): raise ``PluginNotAvailableError`` (50) or ``LimitedConnectivityError`` (51)
        when not ready. The default says the plugin is ready."""

    def gc(self, args: CmdArgs[ConfT, ArgsT]) -> None:
        """GC (spec >= 1.1.0): release resources of attachments not in ``args.config.valid_attachments``.
        The default has nothing to collect."""

    @classmethod
    def run(cls) -> NoReturn:
        """Serve one CNI command from this process's environment and standard streams, then exit.

        The only entry point that touches ``os.environ``, ``sys.stdin``/``sys.stdout``/``sys.stderr`` and the exit
        code; the work is done by a dispatcher that takes them as arguments.
        """
        # The one upward import of the layers (docs/architecture.md), made when a plugin process starts.
        from rscni_py.protocol.main import main

        raise SystemExit(main(cls))


def unimplemented(cls: type[CNIPlugin[Any, Any]]) -> str:
    """Why ``cls`` cannot be instantiated, naming each missing method and a likely misspelling of it ("" when
    nothing is missing): ``it does not implement delete (delet looks like a misspelling of delete)``.

    A plugin's command methods are abstract, so a misspelled one leaves the class abstract; the dispatcher and the
    bundler report it with this text instead of Python's "Can't instantiate abstract class".
    """
    import difflib  # only on this error path

    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if not missing:
        return ""
    # Methods the plugin's own classes define, which the base class does not know: where a misspelling would be.
    own = {
        name
        for klass in cls.__mro__
        if klass not in CNIPlugin.__mro__
        for name, value in vars(klass).items()
        if callable(value) and not name.startswith("__") and not hasattr(CNIPlugin, name)
    }
    hints = [
        f"{found[0]} looks like a misspelling of {name}"
        for name in missing
        if (found := difflib.get_close_matches(name, sorted(own), n=1, cutoff=0.6))
    ]
    return f"it does not implement {', '.join(missing)}" + (f" ({'; '.join(hints)})" if hints else "")


def _checked(plugin: type, candidate: type, base: type, what: str) -> Any:
    if not issubclass(candidate, base):
        raise TypeError(f"{plugin.__name__}: the {what} class {candidate.__name__} must subclass {base.__name__}")
    return candidate
